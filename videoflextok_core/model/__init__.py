"""The port of the released network: hub config -> specs -> modules, weights, tokenize/detokenize.

config.py specs.py wiring.py   the hub-config interpreter (allowed classes -> frozen specs)
checkpoint.py                  hub id / directory / .safetensors; the official key map
vidtok.py                      VidTok, the causal 3-D VAE
layers.py resampler.py fsq.py  transformer blocks; register encoder and flow decoder; FSQ
sampling.py chunking.py        Euler sampler with CFG / APG; the sliding window
noise.py                       Noise: where a decode's random numbers come from
videoflextok.py                VideoFlexTok: from_pretrained / tokenize / detokenize
"""

from .noise import Noise
from .sampling import Sampler
from .videoflextok import VideoFlexTok

__all__ = ["Noise", "Sampler", "VideoFlexTok"]
