"""The config interpreter: accepts exactly the official allow-list, refuses the rest by name."""

import copy
import json

import pytest
import torch
from conftest import REFERENCE

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import (
    ALLOWED_TARGETS,
    T_MINRF_NOISE,
    T_WRAPPER,
    NestedDropoutSpec,
    Role,
    UnsupportedConfigError,
    parse_config,
)

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
        model.detokenize([tokens], num_keep_tokens_list=[4], timesteps=1)
    with pytest.raises(ValueError, match="no nested dropout"):
        model.detokenize([tokens[..., :4]], timesteps=1)
    assert model.detokenize([tokens], timesteps=1)[0].shape == (1, 3, 17, 32, 48)


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
