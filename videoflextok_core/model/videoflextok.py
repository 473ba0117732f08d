"""VideoFlexTok: tokenize a video into coarse-to-fine tokens, decode any prefix of them.

    from videoflextok_core import VideoFlexTok
    from videoflextok_core.model import Noise, Sampler
    model = VideoFlexTok.from_pretrained("EPFL-VILAB/videoflextok_d18_d28").eval()
    tokens_list = model.tokenize(video)                 # video (B, 3, T, H, W) in [-1, 1]
    tokens_list = [t[..., :64] for t in tokens_list]    # keep 64 of 256 tokens per latent frame
    sampler = Sampler(steps=30, guidance=20.0, apg=True)
    reconst = model.detokenize(tokens_list, sampler, noise=Noise(generator=sampler.generator()))
    model.tokenize_clip(video[0]), model.decode_clip(ids, [1, 16, 64], sampler)  # one clip

Code written against the official package calls `detokenize_official` with upstream's keywords
(`timesteps=30, guidance_scale=20.0, perform_norm_guidance=True, generator=...`).

Same seeds and inputs give the same tokens and videos as the official implementation (see
tests/model/test_golden.py); the differences are in how the work is done: batched chunks, one
decoder forward per step for both guidance branches, no deep copies, no padding, cached masks.

Legend: B batch, T frames, H/W pixels, t latent/token frames, N tokens per latent frame,
z VAE channels, h/w latent grid, d FSQ channels.
"""

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn

from ..progress import TqdmProgress, steps
from .checkpoint import (
    CheckpointError,
    check_state_dict,
    read_state_dict,
    resolve,
    save_pretrained,
    save_single_file,
)
from .checks import check_frames, check_noise, check_tokens, check_video
from .config import ModelConfig, parse_config
from .fsq import FSQ
from .layers import at_least_fp32
from .noise import Noise, SeedStreams, rng_state, set_rng_state
from .precision import Precision
from .resampler import Encoder, FlowDecoder
from .sampling import Guidance, Sampler, sample
from .vidtok import VidTok


class VideoFlexTok(nn.Module):
    """The whole tokenizer: VidTok VAE, register encoder, FSQ and rectified-flow decoder, with the
    sliding-window chunking of long videos."""

    def __init__(self, config: ModelConfig | dict | str):
        super().__init__()
        if not isinstance(config, ModelConfig):
            config = parse_config(config)
        self.config = config
        self.vae = VidTok(config.vae.arch)
        self.encoder = Encoder(config.encoder)
        self.decoder = FlowDecoder(config.decoder)
        self.can_drop_tokens = config.can_drop_tokens  # keep_k reaches a nested dropout
        # Whether the sampler holds the conditioning latents fixed (else conditioning frames
        # still give tokens and prefix masking).
        self.pin_conditioning = config.pipeline.pin_conditioning
        self.fsq = FSQ(list(config.fsq.levels))
        self.chunking = config.chunking
        self._precision_setting: str | None = None  # see the `precision` property
        self._precision: Precision | None = None  # resolved for the current device and dtype
        self.vae_batch_size: int | None = None  # clips per VAE call (None: all at once)

    # ------------------------------------------------------------------------------------------
    # Loading and saving
    # ------------------------------------------------------------------------------------------

    @classmethod
    def from_pretrained(
        cls,
        ref: str | Path,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        revision: str | None = None,
        precision: str | None = None,
    ) -> "VideoFlexTok":
        """Load a checkpoint: a Hub repo id, a directory with config.json + model.safetensors,
        or one .safetensors file whose metadata carries the config. Strict: any missing,
        unexpected or mis-shaped tensor raises one `CheckpointError` that lists them all.

        device: default CUDA if available, else CPU.
        dtype: the weights' dtype, float32 (default) or bfloat16 (half the memory; runs with
            precision "bf16"); float64 for reference runs. Whatever float dtype the file stores
            (float32, bf16, fp16) is cast to it as it is read.
        precision: "auto", "fp32" or "bf16" (see `precision`; default: bf16 autocast on CUDA,
            float32 on a CPU). A bad value, or one `dtype` cannot run, raises ValueError before
            any weights are read.
        """
        cfg, weights = resolve(ref, revision)
        config = parse_config(cfg)
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or torch.float32
        Precision.resolve(precision, device, dtype)  # refuse a bad setting before reading
        with torch.device("meta"):
            model = cls(config)
        state = read_state_dict(weights, device, dtype)
        expected = {k: v.shape for k, v in model.state_dict().items()}
        check_state_dict(expected, state, str(weights))
        model.load_state_dict(state, strict=True, assign=True)
        model.fsq = FSQ(list(config.fsq.levels))  # non-persistent buffers (not in the file)
        model.to(device, dtype)
        model.precision = precision
        return model.eval()

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write config.json + model.safetensors in the Hub layout."""
        return save_pretrained(self, self.config, directory)

    def save_single_file(self, path: str | Path) -> Path:
        """Write one .safetensors with the config in its metadata."""
        return save_single_file(self, self.config, path)

    # ------------------------------------------------------------------------------------------
    # Facts
    # ------------------------------------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def precision(self) -> Precision:
        """The precision setting resolved for the model's device and weights (`Precision`:
        what was asked, what runs, why). Set it to "auto", "fp32", "bf16" or None (the default:
        bf16 autocast on CUDA, float32 on a CPU); tokenize runs float32 either way."""
        dtype = next(self.parameters()).dtype
        p = self._precision
        if p is None or (p.device_type, p.weights) != (self.device.type, dtype):
            p = self._precision = Precision.resolve(self._precision_setting, self.device, dtype)
        return p

    @precision.setter
    def precision(self, asked: str | None) -> None:
        dtype = next(self.parameters()).dtype
        self._precision = Precision.resolve(asked, self.device, dtype)  # ValueError if bad
        self._precision_setting = asked

    @property
    def float_dtype(self) -> torch.dtype:
        """Dtype of inputs, initial noise and sampler state: float32 (bf16 comes from autocast),
        float64 for a model cast with `.to(torch.float64)` (a reference run)."""
        return at_least_fp32(next(self.parameters()).dtype)

    @property
    def resolution(self) -> tuple[int, int]:
        """(H, W) of the frames the model decodes."""
        return self.config.resolution

    @property
    def n_registers(self) -> int:
        """Tokens per latent frame (N)."""
        return self.config.n_registers

    @property
    def codebook_size(self) -> int:
        return self.fsq.codebook_size

    # ------------------------------------------------------------------------------------------
    # Tokenize
    # ------------------------------------------------------------------------------------------

    def encode_chunks(self, frames: torch.Tensor, sample_posterior: bool = True):
        """Chunks (B', 3, T', H, W) -> (VAE latents, encoder output, FSQ codes, ids (B', t, N)).
        One global-RNG draw for the whole batch when sampling the VAE posterior."""
        latents = self.vae.encode(frames, sample_posterior, self.vae_batch_size)
        z = self.encoder(latents)  # (B', t, N, d)
        codes, ids = self.fsq(z)
        return latents, z, codes, ids

    @torch.inference_mode()
    def tokenize(self, video: torch.Tensor, sample_posterior: bool = True) -> list[torch.Tensor]:
        """Video (B, 3, T, H, W) in [-1, 1] -> list of B int64 token tensors (1, t, N).

        T must be 1 + 16K (chunk 17, overlap 1; t = 1 + 4K). `sample_posterior=True` samples the
        VAE posterior from the global torch RNG exactly as upstream (seed with torch.manual_seed
        to reproduce it); `False` uses the posterior mean and is fully deterministic. Runs in
        float32 whatever `precision` says (unless the weights are bf16), so ids do not depend on
        the machine.
        """
        video = check_video(video, self.resolution, self.chunking).to(self.device, self.float_dtype)
        B = video.shape[0]
        with self.precision.tokenizing():
            ids = self.encode_chunks(self.chunking.split_video(video), sample_posterior)[3]
        return list(self.chunking.merge_tokens(ids, B).split(1))

    @torch.inference_mode()
    def tokenize_clip(
        self, clip: torch.Tensor, progress: Callable[[int, int], None] | None = None
    ) -> torch.Tensor:
        """One clip (3, T, H, W) in [-1, 1] -> its ids (1, t, N) int64 on the CPU, from the VAE
        posterior mean: no random draw, so the same clip always gives the same ids. These are
        the ids the CLI, the app, the quality curve and the dataset job keep.

        Chunk by chunk, with `progress(done, total)` after each, so that a caller shows how far
        it has got and may pause between chunks (`tokenize` runs all chunks as one batch; the
        latents agree to float32 rounding, the ids unless a value lies on an FSQ boundary).
        """
        video = check_video(clip[None], self.resolution, self.chunking)
        chunks = self.chunking.split_video(video.to(self.device, self.float_dtype))
        ids = []
        with self.precision.tokenizing():
            for i, chunk in enumerate(chunks.split(1)):  # (1, 3, chunk, H, W)
                ids.append(self.encode_chunks(chunk, sample_posterior=False)[3])  # (1, t', N)
                if progress is not None:
                    progress(i + 1, len(chunks))
        return self.chunking.merge_tokens(torch.cat(ids), 1).cpu()  # (1, t, N)

    # ------------------------------------------------------------------------------------------
    # Detokenize
    # ------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def detokenize(
        self,
        tokens: Sequence[torch.Tensor],
        sampler: Sampler,
        *,
        keep: Sequence[int] | None = None,
        noise: Noise | None = None,
        cond: torch.Tensor | Sequence[torch.Tensor] | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[torch.Tensor]:
        """Token ids -> list of B videos (1, 3, T, H, W), roughly in [-1, 1].

        Args:
            tokens: B int tensors (1, t, n), n <= N. A narrower tensor (the model card's
                `t[..., :k]`) decodes exactly as full-width tokens with keep k.
            sampler: every sampler setting (`Sampler`: steps, guidance, APG, ...); its seed is
                not used here, `noise` says where the random numbers come from.
            keep: B ints in 1..N, tokens kept per latent frame (nested dropout); default the
                tokens' own widths.
            noise: where the initial noise and the re-encoding draws come from (`Noise`);
                default the global torch RNG, per sample in batch order, as upstream.
            cond: frames the first chunk must start with, (B, 3, k, H, W) or B x (1, 3, k, H, W)
                in [-1, 1], k = 1 + 4m: their ids replace its first token frames and their
                latents condition the sampler (`sampler.cond_type`).
            progress: callback(done, total) after each sampler step, over all chunks.
        Upstream's keywords (timesteps, guidance_scale, generator, noise_list, ...):
        `detokenize_official`. Later chunks re-encode decoded frames, which draws from the global
        torch RNG unless `noise` gives per-sample seeds.
        """
        if not isinstance(sampler, Sampler):
            raise ValueError(f"sampler must be a Sampler, got {type(sampler).__name__}")
        noise = Noise() if noise is None else noise
        if not isinstance(noise, Noise):
            raise ValueError(f"noise must be a Noise, got {type(noise).__name__}")
        tokens, keep_k = check_tokens(
            tokens,
            keep,
            n_registers=self.n_registers,
            codebook_size=self.codebook_size,
            chunking=self.chunking,
            can_drop_tokens=self.can_drop_tokens,
        )
        B, device, c = tokens.shape[0], self.device, self.chunking
        tokens, keep_k = tokens.to(device), keep_k.to(device)
        cond_frames = check_frames(cond, B, self.resolution, c)
        noise_shape = (B, self.config.vae.arch.z_channels, *self.config.vae_video_sizes)
        first_noise = check_noise(noise.given, noise_shape)
        cond_frames, first_noise = (
            None if x is None else x.to(device, self.float_dtype)
            for x in (cond_frames, first_noise)
        )
        streams = None if noise.seeds is None else SeedStreams(noise.seeds, B, device)
        chunks = c.split_tokens(tokens)
        total = len(chunks) * sampler.steps

        # The sliding window, in one place: each chunk is sampled from its own noise. When
        # chunks overlap, chunk i > 0 starts with the last decoded frames of chunk i-1: they are
        # re-encoded, their ids go before the chunk's tokens, their clean latents are pinned,
        # and their decoded frames are dropped again. Given `cond` frames do the same for chunk
        # 0 (their ids replace its first token frames).
        videos = []
        prev = None
        with self.precision.decoding():
            for i, chunk_tokens in enumerate(chunks):
                if i == 0:
                    frames = cond_frames
                else:
                    frames = prev[:, :, -c.overlap :] if c.overlap > 0 else None
                cond_latents = None
                if frames is not None:
                    cond_ids, cond_latents = self._reencode(frames, noise.shared, streams)
                    rest = chunk_tokens[:, cond_ids.shape[1] :] if i == 0 else chunk_tokens
                    chunk_tokens = torch.cat([cond_ids, rest], dim=1)
                if first_noise is not None and (i == 0 or c.overlap == 0):
                    x = first_noise
                elif streams is not None:  # each sample from its own generator
                    x = torch.cat([self.initial_noise(1, g) for g in streams.generators])
                elif noise.shared:
                    x = self.initial_noise(1, noise.generator).expand(B, -1, -1, -1, -1)
                else:
                    x = self.initial_noise(B, noise.generator)

                def step_done(step, i=i):
                    if progress is not None:
                        progress(i * sampler.steps + step, total)

                latents = self.sample_latents(
                    chunk_tokens, x, keep_k, cond_latents, sampler, step_done
                )
                video = self.vae.decode(latents, self.vae_batch_size)
                if i > 0 and c.overlap > 0:
                    video = video[:, :, c.overlap :]
                videos.append(video)
                prev = video
        return list(torch.cat(videos, dim=2).split(1))

    def detokenize_official(
        self,
        token_ids_list: Sequence[torch.Tensor],
        timesteps: int = 50,
        guidance_scale: Guidance = 1.0,
        perform_norm_guidance: bool = False,
        generator: torch.Generator | None = None,
        num_keep_tokens_list: Sequence[int] | None = None,
        conditioning_frames: torch.Tensor | Sequence[torch.Tensor] | None = None,
        noise_list: torch.Tensor | Sequence[torch.Tensor] | None = None,
        eta: float = 0.0,
        momentum: float = 0.0,
        norm_threshold: float = 0.6,
        cfg_rescaler: Callable | None = None,
        cond_type: str = "clean",
        verbose: bool = False,
    ) -> list[torch.Tensor]:
        """`detokenize` with upstream's keywords and defaults, for code written against the
        official package (the parity tests replay the official calls through it):

            timesteps, guidance_scale, perform_norm_guidance, eta, momentum, norm_threshold,
                cfg_rescaler, cond_type -> `Sampler` (`Sampler.from_official`)
            generator, noise_list -> `Noise(generator=..., given=...)`
            num_keep_tokens_list -> keep; conditioning_frames -> cond
            verbose -> a tqdm bar of the sampler steps on stderr, as upstream
        """
        sampler = Sampler.from_official(
            timesteps=timesteps,
            guidance_scale=guidance_scale,
            perform_norm_guidance=perform_norm_guidance,
            eta=eta,
            momentum=momentum,
            norm_threshold=norm_threshold,
            cfg_rescaler=cfg_rescaler,
            cond_type=cond_type,
        )
        # tqdm only when asked: the model runs without it
        with TqdmProgress() if verbose else contextlib.nullcontext() as bar:  # else bar is None
            return self.detokenize(
                token_ids_list,
                sampler,
                keep=num_keep_tokens_list,
                noise=Noise(generator=generator, given=noise_list),
                cond=conditioning_frames,
                progress=steps(bar, lambda done, total: f"detokenize (step {done}/{total})"),
            )

    def decode_clip(
        self,
        tokens: torch.Tensor,
        budgets: Sequence[int],
        sampler: Sampler,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[torch.Tensor]:
        """Decode one clip's ids (1, t, N) at several budgets k in ONE `detokenize` call, each
        exactly as it would decode alone with `sampler` (its seed included).

        Every budget starts from the same noise: the first chunk's noise as a single-sample call
        with `sampler.generator()` draws it; the generator then continues as it would for that
        call, and shared noise gives every budget the same later-chunk noise and re-encoding
        draws. The global torch RNGs (used to re-encode decoded frames from chunk 2 on) are
        seeded with `sampler.seed` inside `fork_rng`, so the caller's RNG state is left
        untouched. `progress(done, total)` counts sampler steps.

        Returns:
            one (3, T, H, W) float32 CPU tensor per budget, clamped to [-1, 1].
        """
        tokens = tokens.to(self.device)
        generator = sampler.generator(self.device)
        first = self.initial_noise(1, generator)  # (1, z, t, h, w): a single decode's draw
        B = len(budgets)
        noise = Noise(generator=generator, given=[first] * B, shared=True)
        devices = [self.device] if self.device.type == "cuda" else []  # FSQ draws on the device
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(sampler.seed)
            videos = self.detokenize(
                [tokens] * B, sampler, keep=list(budgets), noise=noise, progress=progress
            )
        return [v[0].float().clamp(-1, 1).cpu() for v in videos]

    def _reencode(self, frames: torch.Tensor, shared: bool, streams: SeedStreams | None = None):
        """Decoded or given frames (B, 3, k, H, W) -> (token ids, clean VAE latents) for
        conditioning; two posterior samples from the global RNG, as upstream (ids first)."""
        B = frames.shape[0]
        if streams is None and (not shared or B == 1):
            ids = self.encode_chunks(frames)[3]
            return ids, self.vae.encode(frames, True, self.vae_batch_size)
        # Replay a single-sample RNG stream per sample (the FSQ also draws, on the frames'
        # device), so each sample sees what a call with batch size 1 would see: the current
        # global state for every sample (shared noise), or each sample's own (seeds).
        states = streams.states if streams is not None else [rng_state(frames.device)] * B
        outs = []
        for b, f in enumerate(frames.split(1)):
            set_rng_state(states[b], frames.device)
            outs.append(self._reencode(f, False))
            states[b] = rng_state(frames.device)
        return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])

    def initial_noise(self, batch: int, generator: torch.Generator | None) -> torch.Tensor:
        """(B, z, t, h, w): one draw of (1, z, t, h, w) per sample, in order, like upstream."""
        shape = (1, self.config.vae.arch.z_channels, *self.config.vae_video_sizes)
        # float32 draws whatever the model dtype, so a float64 model starts from the same noise
        draws = [
            torch.randn(shape, generator=generator, device=self.device, dtype=torch.float32)
            for _ in range(batch)
        ]
        return torch.cat(draws).to(self.float_dtype)

    def sample_latents(
        self,
        tokens: torch.Tensor,
        noise: torch.Tensor,
        keep_k: torch.Tensor | None = None,
        cond_latents: torch.Tensor | None = None,
        sampler: Sampler | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """One chunk: ids (B, t, N) + noise (B, z, t, h, w) -> latents (B, z, t, h, w) with
        `sampler` (default `Sampler()`, upstream's defaults).
        With guidance, the conditional and unconditional branches run as ONE batched forward.
        cond_latents (B, z, k, h, w): the first k latent frames are conditioning (their
        registers are prefix-masked, and their latents pinned if the pipeline does so)."""
        B = tokens.shape[0]
        quants = self.fsq.ids_to_codes(tokens, self.float_dtype)  # (B, t, N, d)
        prefix = None
        if cond_latents is not None:
            prefix = torch.full((B,), cond_latents.shape[2], device=tokens.device)
        zero_noise = self.config.pipeline.zero_noise
        if zero_noise:
            noise = torch.zeros_like(noise)
        # Inputs of the batched cond + uncond forward, built once per chunk.
        quants2 = torch.cat([quants, quants])
        keep_k2 = None if keep_k is None else torch.cat([keep_k, keep_k])
        prefix2 = None if prefix is None else torch.cat([prefix, prefix])
        uncond2 = torch.arange(2 * B, device=tokens.device) >= B

        def model_fn(x: torch.Tensor, tau: float, with_uncond: bool):
            if not with_uncond:
                t = torch.full((B,), tau, device=x.device)
                return self.decoder(quants, x, t, keep_k, prefix), None
            t = torch.full((2 * B,), tau, device=x.device)
            v = self.decoder(quants2, torch.cat([x, x]), t, keep_k2, prefix2, uncond2)
            return v[:B], v[B:]

        pinned = cond_latents if self.pin_conditioning else None
        return sample(model_fn, noise, sampler or Sampler(), pinned, progress)


__all__ = ["CheckpointError", "Noise", "VideoFlexTok"]
