"""videoflextok_core: a small, dependency-light implementation of VideoFlexTok inference.

VideoFlexTok (Atanov, Allardice et al., 2026, arXiv 2604.12887) turns a video into 256 discrete
tokens per latent frame, ordered coarse to fine; any prefix of them decodes, through a
rectified-flow decoder, into a plausible video.
"""
