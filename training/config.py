"""Every hyperparameter of the demo model, and the hub config.json it is saved with.

The demo model is a small member of the released architecture family: the same classes, module
names and data flow as `EPFL-VILAB/videoflextok_d18_d28` (see ../shared/reference), only narrower
and at 64x64 pixels, so `VideoFlexTok.from_pretrained` loads it with no special casing.
"""

from dataclasses import asdict, dataclass

P = "videoflextok."


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 0  # seeds every generator below (clips, init, sampling of training noise)
    size: int = 64  # pixels; the VAE makes an 8x8 latent grid of it
    chunk: int = 17  # frames per chunk, as released (5 latent frames)
    overlap: int = 1  # frames shared by consecutive chunks, as released
    difficulty: float = 0.5  # synthetic scene difficulty for training clips

    # Stage 1: VidTok VAE (same causal 4x8x8 design, 16 latent channels, narrower)
    vae_ch: int = 16  # base width (released: 128)
    vae_ch_mult: tuple[int, ...] = (1, 2, 2, 4)  # level widths 16, 32, 32, 64
    vae_res_blocks: int = 1  # per level (released: 2)
    vae_steps: int = 3000  # on 9-frame 32x32 crops (fully convolutional: cheap)
    vae_finetune_steps: int = 300  # then on full 17-frame 64x64 clips
    vae_batch: int = 8
    vae_crop: int = 32
    vae_frames: int = 9  # 1 + 4k frames -> 1 + k latent frames
    vae_lr: float = 5e-4
    vae_kl_weight: float = 1e-6  # a light KL keeps the posterior std small but nonzero
    vae_l2_weight: float = 1.0  # loss = L1 + w * L2 (+ KL)
    # Stage 1b (optional): the VAE decoder alone fine-tuned on whole clips with the encoder frozen,
    # so the latent space (and any resampler trained on it) stays valid; only decoding sharpens.
    dec_finetune_steps: int = 0
    dec_finetune_batch: int = 4
    dec_finetune_lr: float = 1e-4

    # Stage 2: resampler (register encoder + rectified-flow decoder)
    enc_dim: int = 128
    enc_depth: int = 4
    dec_dim: int = 160
    dec_depth: int = 5
    head_dim: int = 32  # muP attention scale 8 / 32
    registers: int = 64  # tokens per latent frame (released: 256)
    patch: int = 2  # patches of the 8x8 latent grid: 16 per frame
    fsq_levels: tuple[int, ...] = (8, 8, 8, 5, 5, 5)  # 64000 codes, as released
    rs_clips: int = 6000  # training clips, encoded once by the frozen VAE
    rs_steps: int = 2400
    rs_batch: int = 16
    rs_lr: float = 4e-4
    rs_warmup: int = 200
    rs_weight_decay: float = 0.01
    ema_decay: float = 0.999
    grad_clip: float = 1.0
    # Training-time behaviour read from the config's own modules (as upstream trains):
    nested_dropout_mode: str = "pow2"  # keep_k ~ uniform over 1, 2, 4, ..., registers
    null_cond_prob: float = 0.1  # classifier-free guidance dropout
    prefix_lengths: tuple[int, ...] = (0, 1)  # conditioning latent frames (overlap)
    prefix_probs: tuple[float, ...] = (0.5, 0.5)
    cond_sigma_range: tuple[float, float] = (0.0, 0.02)  # noise on conditioning frames
    cond_noise_prob: float = 0.5

    # Demo defaults written next to the weights (tuned after training, see train_demo.py)
    eval_clips: int = 16  # held-out procedural clips (seeds from EVAL_SEED_BASE)
    threads: int = 2

    def as_dict(self) -> dict:
        return asdict(self)


# `--quick`: toy step counts for a smoke run (and the tests); the model is the same.
QUICK = dict(
    vae_steps=30, vae_finetune_steps=5, rs_clips=64, rs_steps=40, rs_warmup=10, eval_clips=2
)

# `--profile gpu`: the resampler stage on a GPU (the shipped model's stage 3 ran this way on one
# H200, see README). Same model; more clips, larger batches and a higher LR; the step count is
# fitted to the GPU time at hand with --rs-minutes and recorded in training_log.json.
GPU_PROFILE = dict(rs_clips=30_000, rs_batch=256, rs_lr=6e-4, rs_warmup=300, rs_steps=40_000)

EVAL_SEED_BASE = 1_000_000  # held-out clip seeds; training uses seeds below this
VAE_SEED_BASE = 2_000_000  # VAE training clips
DEC_SEED_BASE = 2_500_000  # stage 1b clips
RS_SEED_BASE = 0  # resampler training clips


def _posemb(read, write, dim, sizes):
    return {
        "_target_": P + "model.utils.posembs.PositionalEmbeddingAdder",
        "read_key": read,
        "write_key": write,
        "dim": dim,
        "max_sizes": sizes,
        "posemb_type": "learnable_sum",
        "posemb_scaling": "absolute",
    }


def _to_last(read, write):
    return {
        "_target_": P + "model.utils.dict_ops.PerSampleOp",
        "read_key": read,
        "write_key": write,
        "per_sample_op": {
            "_target_": P + "model.utils.dict_ops.channels_first_to_last",
            "_partial_": True,
        },
    }


def _transformer(read, mask, dim, depth, head_dim, **extra):
    return {
        "_target_": P + "model.trunks.transformers.FlexTransformer",
        "input_seq_read_key": read,
        "output_seq_write_key": read,
        "dim": dim,
        "depth": depth,
        "head_dim": head_dim,
        "mlp_ratio": 4.0,
        "qkv_bias": False,
        "proj_bias": False,
        "mlp_bias": False,
        "drop": 0.0,
        "drop_path_rate": 0.0,
        "gated_mlp": True,
        "qk_norm": True,
        "use_act_checkpoint": False,
        "weight_init_style": "xavier",
        "zero_init_query_proj": False,
        "block_mask_read_key": mask,
        **extra,
    }


def _packer(keys, prefix, mask_mode, **extra):
    return {
        "_target_": P + "model.preprocessors.flex_seq_packing.BlockWiseSequenceInterleavePacker",
        "input_list_read_keys": keys,
        "packed_seq_write_key": f"{prefix}_packed_seq",
        "block_mask_write_key": f"{prefix}_block_mask",
        "inner_packed_shapes_write_key": f"{prefix}_ps_inner",
        "outer_packed_shapes_write_key": f"{prefix}_ps_outer",
        "mask_mode": mask_mode,
        "pad_to_multiple": 128,
        **extra,
        "compile_block_mask": True,
    }


def _unpacker(prefix, keys):
    return {
        "_target_": P + "model.postprocessors.seq_unpacking.SequenceInterleavedUnpacker",
        "packed_seq_read_key": f"{prefix}_packed_seq",
        "inner_seq_write_keys": keys,
        "inner_packed_shapes_read_key": f"{prefix}_ps_inner",
        "outer_packed_shapes_read_key": f"{prefix}_ps_outer",
    }


def hub_config(c: DemoConfig, demo_defaults: dict | None = None) -> dict:
    """config.json of the demo model: modules in execution order, upstream's schema."""
    t = (c.chunk - 1) // 4 + 1
    grid = c.size // 8
    patch = [1, c.patch, c.patch]
    n, De, Dd = c.registers, c.enc_dim, c.dec_dim
    encoder = {
        "enc_channels_to_last": _to_last("vae_latents", "enc_vae_latents_bthwc"),
        "enc_patch_emb": {
            "_target_": P + "model.preprocessors.patching.PatchEmbedder",
            "input_tensor_list_read_key": "enc_vae_latents_bthwc",
            "patches_list_write_key": "enc_patches",
            "n_patches_write_key": "enc_n_patches",
            "patch_sizes": patch,
            "channels_in": 16,
            "dim": De,
            "flatten_patches": False,
            "weight_init_style": "xavier",
        },
        "enc_posemb_module": _posemb("enc_patches", "enc_patches", De, [grid] * 3),
        "enc_register_module": {
            "_target_": P + "model.preprocessors.registers.RegistersTemporal2D",
            "input_tensor_list_read_key": "enc_patches",
            "register_sizes_read_write_key": "enc_register_sizes",
            "registers_write_key": "enc_registers",
            "dim": De,
            "t_max": t,
            "n_min": n,
            "n_max": n,
            "size_sampling_mode": "uniform",
            "ordering_mode": "nested",
        },
        "enc_seq_packer": _packer(
            ["enc_patches", "enc_registers"], "enc", "time_block_causal_last"
        ),
        "enc_transformer": _transformer(
            "enc_packed_seq", "enc_block_mask", De, c.enc_depth, c.head_dim
        ),
        "enc_unpacker": _unpacker("enc", ["enc_patches", "enc_registers"]),
        "enc_to_latents": {
            "_target_": P + "model.postprocessors.heads.LinearHead",
            "read_key": "enc_registers",
            "write_key": "enc_fsq_latents",
            "dim": De,
            "dim_out": len(c.fsq_levels),
            "use_mup_readout": False,
            "weight_init_style": "zero",
            "dtype_override": None,
            "proj_bias": True,
        },
    }
    decoder = {
        "dec_from_latents": {
            "_target_": P + "model.preprocessors.linear.LinearLayer",
            "read_key": "quants",
            "write_key": "dec_quants",
            "dim_in": len(c.fsq_levels),
            "dim": Dd,
            "weight_init_style": "xavier",
            "dtype_override": None,
            "proj_bias": True,
        },
        "dec_registers_posemb_module": _posemb("dec_quants", "dec_quants", Dd, [n, n]),
        "dec_nested_dropout": {
            "_target_": P + "model.preprocessors.token_dropout.MaskedNestedDropout",
            "read_write_key": "dec_quants",
            "dim": Dd,
            "eval_keep_k_read_key": "eval_keep_k",
            "train_keep_k_write_key": "train_keep_k",
            "size_sampling_mode": c.nested_dropout_mode,
        },
        "dec_prefix_masking": {
            "_target_": P + "model.preprocessors.token_dropout.MaskedPrefixDropout",
            "read_write_key": "dec_quants",
            "dim": Dd,
            "prefix_len_read_key": "prefix_len",
            "eval_prefix_len_read_key": "eval_prefix_len",
        },
        "dec_latent_dropout": {
            "_target_": P + "model.preprocessors.nullcond.LearnedNullCond",
            "read_write_key": "dec_quants",
            "dim": Dd,
            "eval_drop_flag_read_key": "eval_dropout_mask",
            "dropout_prob": c.null_cond_prob,
            "replace_with_single_token": False,
        },
        "dec_noise_channels_to_last": _to_last(
            "vae_latents_noised", "dec_vae_latents_noised_bthwc"
        ),
        "dec_noise_patch_emb": {
            "_target_": P + "model.preprocessors.patching.PatchEmbedder",
            "input_tensor_list_read_key": "dec_vae_latents_noised_bthwc",
            "patches_list_write_key": "dec_patches",
            "n_patches_write_key": "dec_n_patches",
            "patch_sizes": patch,
            "channels_in": 16,
            "dim": Dd,
            "flatten_patches": False,
            "weight_init_style": "xavier",
        },
        "dec_patches_posemb_module": _posemb("dec_patches", "dec_patches", Dd, [grid] * 3),
        "dec_seq_packer": _packer(
            ["dec_patches", "dec_quants"],
            "dec",
            "time_block_causal",
            emb_packing_fn_write_key="dec_emb_packing_fn",
            per_subseq_embs=True,
        ),
        "dec_time_embedder": {
            "_target_": P + "model.preprocessors.time_embedding.TimestepEmbedder",
            "timesteps_read_key": "timesteps",
            "time_embedding_write_key": "dec_temb",
            "dim": Dd,
            "frequency_embedding_size": 256,
            "max_timestep": 1.0,
            "temb_as_tokens": False,
        },
        "dec_transformer": _transformer(
            "dec_packed_seq",
            "dec_block_mask",
            Dd,
            c.dec_depth,
            c.head_dim,
            adaLN_emb_read_key="dec_temb",
            adaLN_packing_fn_read_key="dec_emb_packing_fn",
            adaLN_expansion=2,
        ),
        "dec_unpacker": _unpacker("dec", ["dec_patches", "dec_quants"]),
        "dec_to_patches": {
            "_target_": P + "model.postprocessors.heads.ToPatchesLinearHead",
            "read_key": "dec_patches",
            "write_key": "dec_vae_latents_reconst_bthwc",
            "dim": Dd,
            "channels_out": 16,
            "patch_sizes": patch,
            "use_mup_readout": False,
            "weight_init_style": "zero",
            "dtype_override": None,
            "proj_bias": True,
            "adaLN_emb_read_key": "dec_temb",
            "adaLN_packing_fn_read_key": None,
            "adaLN_bias": True,
        },
        "dec_channels_to_first": {
            "_target_": P + "model.utils.dict_ops.PerSampleOp",
            "read_key": "dec_vae_latents_reconst_bthwc",
            "write_key": "vae_latents_reconst",
            "per_sample_op": {
                "_target_": P + "model.utils.dict_ops.channels_last_to_first",
                "_partial_": True,
            },
        },
    }
    cfg = {
        "video_flex_tok": {
            "_target_": P + "resamplers.video_wrappers.VideoFlowMatchingResampler",
            "vae": {
                "_target_": P + "compressors.vidtok.VidTokVAE",
                "images_read_key": "rgb",
                "vae_latents_read_key": "vae_latents_reconst",
                "vae_latents_write_key": "vae_latents",
                "images_reconst_write_key": "rgb_reconst",
                "tokenizer_id": "vidtok_kl_causal_488_16chn",
                "compile": False,
                "chunk_size": None,
                "force_vae_encode": True,
            },
            "encoder": {
                "_target_": P + "model.utils.wrappers.SequentialModuleDictWrapper",
                "module_dict": encoder,
            },
            "decoder": {
                "_target_": P + "model.utils.wrappers.SequentialModuleDictWrapper",
                "module_dict": decoder,
            },
            "regularizer": {
                "_target_": P + "regularizers.quantize_fsq.FSQ",
                "latents_read_key": "enc_fsq_latents",
                "quants_write_key": "quants",
                "tokens_write_key": "token_ids",
                "levels": list(c.fsq_levels),
                "drop_quant_p": 0.0,
                "corrupt_tokens_p": 0.0,
            },
            "flow_matching_noise_module": {
                "_target_": P + "flow_matching.noise_modules.PrefixMinRFNoiseModule",
                "clean_images_read_key": "vae_latents",
                "noised_images_write_key": "vae_latents_noised",
                "timesteps_write_key": "timesteps",
                "sigmas_write_key": "sigmas",
                "prefix_len": list(c.prefix_lengths),
                "keep_prefix_prob": list(c.prefix_probs),
                "ln": True,
                "stratisfied": False,
                "mode_scale": 0.0,
                "noise_write_key": "flow_noise",
                "loss_mask_write_key": "loss_mask",
                "prefix_len_write_key": "prefix_len",
                "cond_sigma_range": list(c.cond_sigma_range),
                "cond_noise_prob": c.cond_noise_prob,
            },
            "pipeline": {
                "_target_": P + "flow_matching.pipelines.VideoMinRFPipeline",
                "_partial_": True,
                "target_sizes_read_key": None,
                "latents_read_key": "quants",
                "timesteps_read_key": "timesteps",
                "noised_videos_read_key": "vae_latents_noised",
                "reconst_write_key": "vae_latents_reconst",
                "out_channels": 16,
                "zero_noise": False,
                "cond_vae_latents_key": "cond_vae_latents",
            },
        },
        "chunk_size": c.chunk,
        "overlap_size_frames": c.overlap,
        "vae_video_sizes": [t, grid, grid],
        "video_preprocess_args": {
            "fps": 8,
            "size": c.size,
            "chunk_size": c.chunk,
            "overlap_size": c.overlap,
        },
        "vidtok_overrides": {
            "ch": c.vae_ch,
            "ch_mult": list(c.vae_ch_mult),
            "num_res_blocks": c.vae_res_blocks,
        },
    }
    if demo_defaults:
        cfg["demo_defaults"] = demo_defaults  # ignored by upstream; read by the app
    return cfg
