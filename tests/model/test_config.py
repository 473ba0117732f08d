"""The config interpreter: accepts exactly the official allow-list, refuses the rest by name."""

import copy
import json
from dataclasses import fields, replace
from typing import get_args, get_type_hints

import pytest
import torch
from paths import REFERENCE

from videoflextok_core.model import Sampler, VideoFlexTok
from videoflextok_core.model.config import (
    ALLOWED_TARGETS,
    BOUNDS,
    T_MINRF_NOISE,
    T_WRAPPER,
    TARGETS,
    VIDTOK_OVERRIDABLE,
    Role,
    UnsupportedConfigError,
    parse_config,
)
from videoflextok_core.model.specs import (
    FSQSpec,
    LinearHeadSpec,
    LinearLayerSpec,
    MinRFNoiseSpec,
    NestedDropoutSpec,
    NullCondSpec,
    PackerSpec,
    PatchEmbedderSpec,
    PerSampleOpSpec,
    PipelineSpec,
    PosEmbSpec,
    PrefixDropoutSpec,
    PrefixMinRFNoiseSpec,
    RegistersSpec,
    TimeEmbedderSpec,
    TransformerHeadSpec,
    TransformerSpec,
    UnpackerSpec,
    VidTokVAESpec,
)
from videoflextok_core.model.vidtok import VidTokSpec

TINY = json.loads((REFERENCE / "tiny" / "config.json").read_text())
REAL = json.loads((REFERENCE / "real_config_inferred.json").read_text())


def tiny():
    return copy.deepcopy(TINY)


def targets_in(node) -> set[str]:
    found = set()
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "_target_":
                found.add(v)
            else:
                found |= targets_in(v)
    elif isinstance(node, list):
        for v in node:
            found |= targets_in(v)
    return found


def refused(cfg, *fragments):
    with pytest.raises(UnsupportedConfigError) as e:
        parse_config(cfg)
    for f in fragments:
        assert f in str(e.value), str(e.value)
    return str(e.value)


def test_allow_list_is_the_official_one():
    assert len(ALLOWED_TARGETS) == len(set(ALLOWED_TARGETS)) == 25
    assert all(t.startswith("videoflextok.") for t in ALLOWED_TARGETS)
    assert ALLOWED_TARGETS == tuple(TARGETS)  # the table of builders is the allow-list


def test_every_allowed_target_builds():
    """The tiny config exercises 23 targets; the other two are swapped in."""
    seen = set(targets_in(TINY))
    parse_config(TINY)
    cfg = tiny()
    cfg["video_flex_tok"]["_target_"] = T_WRAPPER
    noise = cfg["video_flex_tok"]["flow_matching_noise_module"]
    for key in ("prefix_len", "keep_prefix_prob", "loss_mask_write_key", "prefix_len_write_key"):
        noise.pop(key)
    noise["_target_"] = T_MINRF_NOISE
    parse_config(cfg)
    seen |= targets_in(cfg)
    assert seen == set(ALLOWED_TARGETS)


def test_real_config_builds_with_expected_roles():
    cfg = parse_config(REAL)
    assert cfg.n_registers == 256 and cfg.resolution == (256, 256)
    assert cfg.codebook_size == 64000 and cfg.tokens_per_chunk == 5
    assert [s.role for s in cfg.decoder.streams] == [Role.PATCHES, Role.REGISTERS]
    ops = cfg.decoder.stream(Role.REGISTERS).ops
    assert ops[:2] == ("dec_from_latents", "dec_registers_posemb_module")
    assert isinstance(cfg.nested_dropout, NestedDropoutSpec)
    assert cfg.decoder.repa_head == "dec_repa_head" and cfg.decoder.repa_layer == 1


def test_module_order_is_file_order():
    cfg = tiny()
    dec = cfg["video_flex_tok"]["decoder"]["module_dict"]
    items = list(dec.items())
    # swap nested dropout and the register posemb: a different (valid) computation
    i, j = (
        [k for k, _ in items].index("dec_registers_posemb_module"),
        [k for k, _ in items].index("dec_nested_dropout"),
    )
    items[i], items[j] = items[j], items[i]
    cfg["video_flex_tok"]["decoder"]["module_dict"] = dict(items)
    ops = parse_config(cfg).decoder.stream(Role.REGISTERS).ops
    assert ops.index("dec_nested_dropout") < ops.index("dec_registers_posemb_module")


def test_unknown_target_is_refused_by_name():
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_latent_dropout"]["_target_"] = "os.system"
    refused(cfg, "os.system", "dec_latent_dropout", "allow-list")


def test_nested_unknown_target_in_plain_value_is_refused():
    cfg = tiny()
    mod = cfg["video_flex_tok"]["encoder"]["module_dict"]["enc_transformer"]
    mod["act_layer"] = {"_target_": "torch.nn.GELU", "_partial_": True}
    refused(cfg, "enc_transformer.act_layer")


def test_unknown_hyperparameter_is_refused():
    cfg = tiny()
    cfg["video_flex_tok"]["encoder"]["module_dict"]["enc_patch_emb"]["bogus"] = 1
    refused(cfg, "enc_patch_emb", "bogus")


def test_unknown_module_class_in_wrong_place():
    cfg = tiny()
    cfg["video_flex_tok"]["regularizer"] = cfg["video_flex_tok"]["vae"]
    refused(cfg, "regularizer", "not supported here")


def test_interpolation_is_refused():
    cfg = tiny()
    cfg["video_flex_tok"]["encoder"]["module_dict"]["enc_transformer"]["dim"] = "${..dim}"
    refused(cfg, "interpolation")


def test_without_dec_nested_dropout_keep_k_is_refused_at_decode():
    """Upstream builds such a model and only fails (KeyError) when keep_k is given."""
    cfg = tiny()
    dec = cfg["video_flex_tok"]["decoder"]
    renamed = {
        ("dec_other_name" if k == "dec_nested_dropout" else k): v
        for k, v in dec["module_dict"].items()
    }
    dec["module_dict"] = renamed
    model = VideoFlexTok(cfg).eval()
    assert not model.can_drop_tokens
    tokens = torch.zeros(1, 5, 16, dtype=torch.long)
    with pytest.raises(ValueError, match="no nested dropout"):
        model.detokenize([tokens], Sampler(1), keep=[4])
    with pytest.raises(ValueError, match="no nested dropout"):
        model.detokenize([tokens[..., :4]], Sampler(1))
    assert model.detokenize([tokens], Sampler(1))[0].shape == (1, 3, 17, 32, 48)


def test_options_upstream_builds_but_cannot_run_are_refused():
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_time_embedder"]["max_timestep"] = 0.5
    refused(cfg, "dec_time_embedder", "max_timestep")
    cfg = tiny()
    cfg["vidtok_overrides"]["norm_type"] = "groupnorm"
    refused(cfg, "groupnorm")
    cfg = tiny()
    cfg["vidtok_overrides"]["init_pad_mode"] = "reflect"
    refused(cfg, "reflect")
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_seq_packer"][
        "repa_block_mask_write_key"
    ] = "dec_repa_mask"
    refused(cfg, "dec_seq_packer", "REPA mask")


def test_missing_required_hyperparameter():
    cfg = tiny()
    del cfg["video_flex_tok"]["encoder"]["module_dict"]["enc_transformer"]["input_seq_read_key"]
    refused(cfg, "enc_transformer", "input_seq_read_key")


def test_wiring_not_understood_fails_loudly():
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_transformer"]["block_mask_read_key"] = None
    refused(cfg, "dec_transformer", "mix samples")
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_to_patches"]["read_key"] = "nowhere"
    refused(cfg, "dec_to_patches", "nowhere")
    cfg = tiny()
    cfg["video_flex_tok"]["decoder"]["module_dict"]["dec_transformer"]["adaLN_expansion"] = 1
    refused(cfg, "adaLN_expansion")


def test_options_that_cannot_run_are_refused():
    for part, name, key, value, fragment in [
        ("encoder", "enc_to_latents", "use_mup_readout", True, "muP"),
        ("encoder", "enc_patch_emb", "flatten_patches", True, "flatten_patches"),
        ("decoder", "dec_latent_dropout", "replace_with_single_token", True, "single_token"),
        ("decoder", "dec_time_embedder", "temb_as_tokens", True, "temb_as_tokens"),
        ("encoder", "enc_seq_packer", "mask_mode", "diagonal", "mask_mode"),
        ("encoder", "enc_posemb_module", "posemb_type", "rope", "posemb_type"),
        ("encoder", "enc_transformer", "weight_init_style", "orthogonal", "weight_init_style"),
    ]:
        cfg = tiny()
        cfg["video_flex_tok"][part]["module_dict"][name][key] = value
        refused(cfg, name, fragment)


def test_top_level_checks():
    refused({"nothing": 1}, "video_flex_tok")
    refused("not json", "JSON")
    cfg = tiny()
    cfg["chunk_size"] = 16
    refused(cfg, "chunk_size")
    cfg = tiny()
    cfg["vidtok_overrides"]["time_downsample_factor"] = 2
    refused(cfg, "vidtok_overrides.time_downsample_factor")
    cfg = tiny()
    cfg["video_flex_tok"]["vae"]["tokenizer_id"] = "vidtok_other"
    refused(cfg, "tokenizer_id")
    cfg = tiny()
    cfg["video_flex_tok"]["pipeline"].pop("_partial_")
    refused(cfg, "_partial_")


def test_flexible_mask_needs_full_cross_config():
    cfg = tiny()
    packer = cfg["video_flex_tok"]["encoder"]["module_dict"]["enc_seq_packer"]
    packer["mask_mode"] = "flexible_time_block_causal_last"
    refused(cfg, "cross_timestep_attention_config")
    packer["cross_timestep_attention_config"] = {
        "prefix2prefix": "full",
        "prefix2nonprefix": "none",
        "nonprefix2prefix": "full",
        "nonprefix2nonprefix": "causal",
    }
    VideoFlexTok(cfg)  # builds and runs below in test_layers


def test_overrides_change_the_vae():
    cfg = tiny()
    cfg["vidtok_overrides"]["num_res_blocks"] = 2
    model = VideoFlexTok(cfg)
    assert len(model.vae.encoder.down[0].block) == 2
    assert len(model.vae.decoder.up[0].block) == 3


# ----------------------------------------------------------------------------------------------
# Values: types from the spec annotations, ranges from BOUNDS
# ----------------------------------------------------------------------------------------------


def real():
    return copy.deepcopy(REAL)


def module(cfg, part, name):
    return cfg["video_flex_tok"][part]["module_dict"][name]


@pytest.mark.parametrize(
    "part, name, key, value, fragments",
    [
        ("encoder", "enc_register_module", "n_min", None, ["n_min", "expected int, got null"]),
        ("encoder", "enc_register_module", "n_max", "256", ["n_max", 'expected int, got "256"']),
        ("decoder", "dec_time_embedder", "frequency_embedding_size", -1, ["outside [1, 65536]"]),
        ("decoder", "dec_transformer", "depth", 10**12, ["depth", "outside [1, 1024]"]),
        ("decoder", "dec_transformer", "dim", 1792.0, ["dim", "expected int, got 1792.0"]),
        ("decoder", "dec_transformer", "qk_norm", 1, ["qk_norm", "expected bool"]),
        ("decoder", "dec_transformer", "mlp_ratio", float("nan"), ["mlp_ratio", "number"]),
        ("decoder", "dec_transformer", "intermediate_layers", [1, "2"], ["intermediate_layers[1]"]),
        ("decoder", "dec_transformer", "head_dim", 65, ["not divisible by its 27 heads"]),
        ("decoder", "dec_latent_dropout", "dropout_prob", 1.5, ["outside [0, 1] (a probability)"]),
        ("encoder", "enc_patch_emb", "patch_sizes", [1, "2", 2], ["patch_sizes[1]"]),
        ("encoder", "enc_posemb_module", "max_sizes", None, ["max_sizes", "list of int"]),
        ("decoder", "dec_seq_packer", "input_list_read_keys", "dec_patches", ["list of string"]),
        ("decoder", "dec_seq_packer", "repa_patch_index", 2, ["repa_patch_index=2"]),
        ("decoder", "dec_time_embedder", "max_timestep", 0.5, ["starts at flow time 1"]),
    ],
)
def test_values_are_checked_for_type_and_range(part, name, key, value, fragments):
    cfg = real()
    module(cfg, part, name)[key] = value
    msg = refused(cfg, f"video_flex_tok.{part}.module_dict.{name}", *fragments)
    assert msg.startswith(f"video_flex_tok.{part}.module_dict.{name}")


def test_other_values_are_checked_by_path():
    cfg = real()
    cfg["video_flex_tok"]["regularizer"]["levels"] = [8, 1]
    refused(cfg, "video_flex_tok.regularizer.levels[1]", "outside [2, 65536]")
    cfg = real()
    cfg["video_flex_tok"]["regularizer"]["levels"] = [65536] * 3
    refused(cfg, "video_flex_tok.regularizer.levels", "int32 ids")
    cfg = real()
    cfg["video_flex_tok"]["flow_matching_noise_module"]["keep_prefix_prob"] = [0.5, "0.5"]
    refused(cfg, "flow_matching_noise_module.keep_prefix_prob[1]")
    cfg = real()
    cfg["chunk_size"] = True
    refused(cfg, "chunk_size: expected int, got true")
    cfg = real()
    cfg["vae_video_sizes"] = [5, 32]
    refused(cfg, "vae_video_sizes: expected a list of 3 int, got 2 values")
    cfg = real()
    cfg["vidtok_overrides"] = {"ch": -1}
    refused(cfg, "vidtok_overrides.ch: -1 is outside [1, 65536]")
    cfg = real()
    cfg["vidtok_overrides"] = {"ch": 2048, "ch_mult": [1, 2, 64, 4]}
    refused(cfg, "vidtok_overrides.ch", "exceeds 65536")
    cfg = real()
    cfg["video_preprocess_args"]["fps"] = "8"
    refused(cfg, "video_preprocess_args.fps")
    refused({"video_flex_tok": {"bad": {1, 2}}}, "not valid JSON")


@pytest.mark.parametrize("name", ["", "keys", "training", "_modules", "a.b", "a b", "x" * 300])
def test_module_names_nn_module_dict_cannot_take_are_refused(name):
    cfg = real()
    dec = cfg["video_flex_tok"]["decoder"]
    dec["module_dict"] = {
        (name if k == "dec_repa_head" else k): v for k, v in dec["module_dict"].items()
    }
    refused(cfg, f"video_flex_tok.decoder.module_dict.{name}: module name")


def numeric_names(spec_cls) -> set[str]:
    """Fields of a spec whose annotation holds an int or a float (alone, in a list, or | None)."""
    hints = get_type_hints(spec_cls)
    out = set()
    for f in fields(spec_cls):
        if f.metadata.get("derived"):
            continue
        todo = [hints[f.name]]
        while todo:
            h = todo.pop()
            if h in (int, float):
                out.add(f.name)
            todo.extend(a for a in get_args(h) if a is not Ellipsis)
    return out


def test_every_number_has_a_bound():
    spec_classes = {
        PerSampleOpSpec,
        PatchEmbedderSpec,
        PosEmbSpec,
        RegistersSpec,
        PackerSpec,
        TransformerSpec,
        UnpackerSpec,
        LinearHeadSpec,
        TransformerHeadSpec,
        LinearLayerSpec,
        NestedDropoutSpec,
        PrefixDropoutSpec,
        NullCondSpec,
        TimeEmbedderSpec,
        FSQSpec,
        VidTokVAESpec,
        PipelineSpec,
        MinRFNoiseSpec,
        PrefixMinRFNoiseSpec,
    }
    names = set().union(*(numeric_names(c) for c in spec_classes))
    names |= numeric_names(VidTokSpec) & set(VIDTOK_OVERRIDABLE)
    names |= {"chunk_size", "overlap_size_frames", "vae_video_sizes"}
    assert names - set(BOUNDS) == set()


def test_float_fields_take_integers_and_the_model_is_unchanged():
    cfg = real()
    module(cfg, "decoder", "dec_transformer")["mlp_ratio"] = 4
    module(cfg, "decoder", "dec_time_embedder")["max_timestep"] = 1
    parsed = parse_config(cfg)
    spec = parsed.decoder.spec("dec_transformer")
    assert spec.mlp_ratio == 4.0 and isinstance(spec.mlp_ratio, float)
    assert replace(parsed, raw="") == replace(parse_config(REAL), raw="")


# ----------------------------------------------------------------------------------------------
# Data keys resolved once
# ----------------------------------------------------------------------------------------------


def test_inference_keys_resolve_to_active_modules_and_flags():
    cfg = parse_config(REAL)
    assert cfg.decoder.active == {"dec_nested_dropout", "dec_prefix_masking", "dec_latent_dropout"}
    assert cfg.encoder.active == frozenset()
    assert cfg.can_drop_tokens and cfg.pipeline.pin_conditioning
    other = real()
    other["video_flex_tok"]["pipeline"]["cond_vae_latents_key"] = "other_latents"
    module(other, "decoder", "dec_latent_dropout")["eval_drop_flag_read_key"] = "other_flag"
    module(other, "decoder", "dec_nested_dropout")["eval_keep_k_read_key"] = None
    parsed = parse_config(other)
    assert parsed.decoder.active == {"dec_prefix_masking"}
    assert not parsed.can_drop_tokens and not parsed.pipeline.pin_conditioning


def test_two_inference_inputs_under_one_key_are_refused():
    cfg = real()
    module(cfg, "decoder", "dec_prefix_masking")["eval_prefix_len_read_key"] = "eval_keep_k"
    refused(cfg, "video_flex_tok.decoder.module_dict.dec_prefix_masking", "carries another input")
    cfg = real()
    module(cfg, "decoder", "dec_nested_dropout")["eval_keep_k_read_key"] = "eval_dropout_mask"
    refused(cfg, "video_flex_tok.decoder.module_dict.dec_nested_dropout", "carries another input")
