"""Sliding-window arithmetic of VideoFlexTok (port of upstream `VideoChunkTokenizerWrapper`).

A video is tokenized in chunks of `chunk` frames that overlap by `overlap` frames. The causal VAE
turns a chunk into tpc = (chunk - 1) / 4 + 1 latent (= token) frames, and the overlap into
ot = (overlap - 1) / 4 + 1 token frames, which later chunks drop.

Worked example, the released models (chunk 17, overlap 1, so stride 16, tpc 5, ot 1):
    33 frames -> chunks [0, 17) and [16, 33) -> tokens 5 + (5 - 1) = 9 token frames.
    Decoding: chunk 0 from token frames [0, 5); chunk 1 re-encodes its first frame from the
    *decoded* frame 16 (one token frame), adds token frames [5, 9) and is generated with that
    decoded frame pinned as clean conditioning; its first frame is dropped. 17 + 16 = 33 frames.
With overlap 0 the chunks are independent: T = K * chunk frames, K * tpc token frames.

Valid frame counts are T = chunk + (K - 1) * stride, K >= 1: 17, 33, 49, ... for the released
models, 9, 18, 27, ... for chunk 9 without overlap. A reader cuts a clip to
`frames_at_most(n)`; `tokenize` accepts a clip when `is_valid(T)`.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Chunking:
    chunk: int = 17  # frames per chunk
    overlap: int = 1  # frames shared by consecutive chunks (0 or 1 + 4k)
    time_factor: int = 4  # VAE temporal compression (causal: 1 + 4k frames -> 1 + k latents)

    def __post_init__(self):
        if not (self.chunk >= 1 and 0 <= self.overlap < self.chunk):
            raise ValueError(
                f"need chunk >= 1 and 0 <= overlap < chunk, got chunk={self.chunk}, "
                f"overlap={self.overlap}"
            )

    @property
    def stride(self) -> int:
        return self.chunk - self.overlap if self.overlap > 0 else self.chunk

    @property
    def tokens_per_chunk(self) -> int:
        return (self.chunk - 1) // self.time_factor + 1

    @property
    def overlap_tokens(self) -> int:
        return (self.overlap - 1) // self.time_factor + 1 if self.overlap > 0 else 0

    @property
    def token_stride(self) -> int:
        return self.tokens_per_chunk - self.overlap_tokens

    def num_chunks_for_frames(self, T: int) -> int:
        """Whole chunks in T frames (< 1 when T is shorter than one chunk)."""
        return (T - self.chunk) // self.stride + 1

    def valid_frames(self, num_chunks: int) -> int:
        """Frames of a video that is exactly `num_chunks` chunks long."""
        return self.chunk + (num_chunks - 1) * self.stride

    def is_valid(self, T: int) -> bool:
        """Whether T frames are a whole number of chunks (what `tokenize` accepts)."""
        n = self.num_chunks_for_frames(T)
        return n >= 1 and self.valid_frames(n) == T

    def frames_at_most(self, n: int) -> int:
        """The largest valid frame count <= n, or 0 when n is shorter than one chunk.
        E.g. chunk 17, overlap 1: 40 -> 33; chunk 9, overlap 0: 24 -> 18."""
        chunks = self.num_chunks_for_frames(n)
        return self.valid_frames(chunks) if chunks >= 1 else 0

    def valid_token_frames(self, num_chunks: int) -> int:
        return self.tokens_per_chunk + (num_chunks - 1) * self.token_stride

    def timesteps(self, T: int) -> int:
        """Token (latent) frames t of a valid clip of T frames: 33 frames -> 9."""
        return self.valid_token_frames(self.num_chunks_for_frames(T))

    def num_chunks_for_tokens(self, t: int) -> int:
        return (t - self.tokens_per_chunk) // self.token_stride + 1

    def split_video(self, video: torch.Tensor) -> torch.Tensor:
        """(B, C, T, H, W) -> (B*nc, C, chunk, H, W), all chunks of video 0 first ("(b nc)")."""
        nc = self.num_chunks_for_frames(video.shape[2])
        chunks = [video[:, :, i * self.stride : i * self.stride + self.chunk] for i in range(nc)]
        return torch.stack(chunks, dim=1).flatten(0, 1)

    def merge_tokens(self, ids: torch.Tensor, batch: int) -> torch.Tensor:
        """(B*nc, tpc, N) per-chunk ids -> (B, tokens, N), dropping each later chunk's overlap."""
        ids = ids.unflatten(0, (batch, -1))  # (B, nc, tpc, N)
        parts = [ids[:, 0]] + [ids[:, i, self.overlap_tokens :] for i in range(1, ids.shape[1])]
        return torch.cat(parts, dim=1)

    def split_tokens(self, tokens: torch.Tensor) -> list[torch.Tensor]:
        """(B, t, ...) -> per chunk (B, tpc, ...) for chunk 0 and (B, tpc - ot, ...) after."""
        nc = self.num_chunks_for_tokens(tokens.shape[1])
        out = [tokens[:, : self.tokens_per_chunk]]
        for i in range(1, nc):
            start = self.tokens_per_chunk + (i - 1) * self.token_stride
            out.append(tokens[:, start : start + self.token_stride])
        return out
