"""Follow the data keys of an encoder / decoder module_dict, once, symbolically.

Upstream modules talk through string keys of a shared dict (`read_key`, `write_key`, ...).
`resolve_trunk` walks the modules in file order, tracks what each key holds (VAE latents, a token
stream and the modules applied to it, a packed sequence, a mask, a head output, ...) and returns a
`TrunkPlan`. Anything it cannot place raises `UnsupportedConfigError` naming the module's path.
The plan names modules, roles and streams; no data key survives in it.
"""

import math

from .specs import (
    LinearHeadSpec,
    LinearLayerSpec,
    ModuleSpec,
    NestedDropoutSpec,
    NullCondSpec,
    PackerSpec,
    PatchEmbedderSpec,
    PerSampleOpSpec,
    PosEmbSpec,
    PrefixDropoutSpec,
    RegistersSpec,
    Role,
    Stream,
    TimeEmbedderSpec,
    TransformerHeadSpec,
    TransformerSpec,
    TrunkPlan,
    UnpackerSpec,
)
from .specs import fail as _fail


class Sym:
    """What a data key holds while we trace a module_dict."""

    def __init__(self, kind: str, **info):
        self.kind = kind  # latents | quants | timesteps | temb | stream | packed | mask | ...
        self.info = info


def _get(env: dict, key: str, path: str, *kinds: str) -> Sym:
    sym = env.get(key)
    if sym is None:
        _fail(path, f"reads {key!r}, which nothing before it provides")
    if kinds and sym.kind not in kinds:
        _fail(path, f"reads {key!r} holding {sym.kind}; expected {' or '.join(kinds)}")
    return sym


TokenDropoutSpec = NestedDropoutSpec | PrefixDropoutSpec | NullCondSpec


def _eval_key(spec: TokenDropoutSpec) -> str | None:
    """The data key a token-dropout module reads its inference input from."""
    if isinstance(spec, NestedDropoutSpec):
        return spec.eval_keep_k_read_key
    if isinstance(spec, PrefixDropoutSpec):
        return spec.eval_prefix_len_read_key
    return spec.eval_drop_flag_read_key


def resolve_trunk(
    modules: list[tuple[str, ModuleSpec]],
    path: str,
    inputs: dict[str, Sym],
    output_key: str,
    output_kind: str,
    eval_inputs: dict[str, type] | None = None,
) -> TrunkPlan:
    """Trace a module_dict in file order and return its plan.

    inputs: data keys available before the first module (e.g. VAE latents channels-first).
    output_key / output_kind: what the trunk must produce ("head_out" registers for the encoder,
    the channels-first velocity "latents_cf" for the decoder).
    eval_inputs: the data keys upstream's inference code sets, each with the class of the
    token-dropout module it drives (keep_k -> nested dropout, ...). A module of that class
    reading that key is `active` in the plan.
    """
    eval_inputs = eval_inputs or {}
    env = dict(inputs)
    packers, transformers, time_embedders, heads, repa = [], [], [], [], []
    active = set()
    for name, spec in modules:
        where = f"{path}.module_dict.{name}"
        if isinstance(spec, PerSampleOpSpec):
            src = _get(env, spec.read_key, where, "latents_cf", "latents_cl", "head_out")
            if spec.op == "channels_first_to_last" and src.kind == "latents_cf":
                env[spec.write_key] = Sym("latents_cl", **src.info)
            elif spec.op == "channels_last_to_first" and src.kind == "head_out":
                if not src.info["to_patches"]:
                    _fail(where, "channels_last_to_first expects the output of a patches head")
                env[spec.write_key] = Sym("latents_cf", source="velocity", by=src.info["by"])
            elif spec.op == "channels_last_to_first" and src.kind == "latents_cl":
                env[spec.write_key] = Sym("latents_cf", **src.info)
            else:
                _fail(where, f"{spec.op} applied to {src.kind} is not understood")
        elif isinstance(spec, PatchEmbedderSpec):
            src = _get(env, spec.input_tensor_list_read_key, where, "latents_cl")
            if spec.flatten_patches:
                _fail(where, "flatten_patches=True cannot be interleaved per latent frame")
            if len(spec.patch_sizes) != 3 or spec.patch_sizes[0] != 1:
                _fail(where, f"patch_sizes must be [1, ph, pw], got {list(spec.patch_sizes)}")
            dim = (
                spec.dim if spec.dim is not None else spec.channels_in * math.prod(spec.patch_sizes)
            )
            env[spec.patches_list_write_key] = Sym(
                "stream",
                role=Role.PATCHES,
                ops=(name,),
                dim=dim,
                source=src.info["source"],
                patch_sizes=spec.patch_sizes,
            )
        elif isinstance(spec, RegistersSpec):
            _get(env, spec.input_tensor_list_read_key, where, "stream")
            env[spec.registers_write_key] = Sym(
                "stream", role=Role.REGISTERS, ops=(name,), dim=spec.dim, source="learned"
            )
            if spec.extra_registers_write_key is not None:
                env[spec.extra_registers_write_key] = Sym("unused", by=name)
        elif isinstance(spec, LinearLayerSpec):
            src = _get(env, spec.read_key, where, "quants", "stream")
            if src.kind == "quants":
                if spec.dim_in != src.info["dim"]:
                    _fail(where, f"dim_in={spec.dim_in} but the FSQ has {src.info['dim']} channels")
                env[spec.write_key] = Sym(
                    "stream", role=Role.REGISTERS, ops=(name,), dim=spec.dim, source="quants"
                )
            else:
                if spec.dim_in != src.info["dim"]:
                    _fail(where, f"dim_in={spec.dim_in} but the stream is {src.info['dim']} wide")
                env[spec.write_key] = Sym(
                    "stream", **{**src.info, "ops": src.info["ops"] + (name,), "dim": spec.dim}
                )
        elif isinstance(spec, PosEmbSpec):
            src = _get(env, spec.read_key, where, "stream")
            role = src.info["role"]
            rank = 3 if role is Role.PATCHES else 2
            if len(spec.max_sizes) != rank:
                _fail(where, f"{len(spec.max_sizes)}-D posemb on {role.value} ({rank}-D)")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
            if spec.posemb_scaling == "interpolate" and rank != 2:
                _fail(where, "interpolated positional embeddings are 2-D only")
            if spec.posemb_write_key is not None:
                env[spec.posemb_write_key] = Sym("unused", by=name)
            env[spec.write_key] = Sym("stream", **{**src.info, "ops": src.info["ops"] + (name,)})
        elif isinstance(spec, TokenDropoutSpec):
            key = spec.read_write_key
            src = _get(env, key, where, "stream")
            if src.info["role"] is not Role.REGISTERS:
                _fail(where, "token dropout / null condition only apply to register streams")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
            if any(other is src for k, other in env.items() if k != key):
                _fail(where, f"{key!r} is modified in place while another key aliases it")
            env[key] = Sym("stream", **{**src.info, "ops": src.info["ops"] + (name,)})
            eval_key = _eval_key(spec)
            if eval_key is not None and eval_inputs.get(eval_key) is type(spec):
                active.add(name)
        elif isinstance(spec, TimeEmbedderSpec):
            _get(env, spec.timesteps_read_key, where, "timesteps")
            env[spec.time_embedding_write_key] = Sym("temb", dim=spec.dim, by=name)
            time_embedders.append(name)
        elif isinstance(spec, PackerSpec):
            streams = [_get(env, k, where, "stream") for k in spec.input_list_read_keys]
            if len({s.info["dim"] for s in streams}) != 1:
                _fail(where, "packed streams must have the same width")
            if spec.emb_packing_fn_write_key is not None:
                if not spec.per_subseq_embs:
                    _fail(where, "per_subseq_embs=False is not implemented upstream")
                env[spec.emb_packing_fn_write_key] = Sym("packing_fn", packer=name, n=len(streams))
            env[spec.packed_seq_write_key] = Sym("packed", packer=name, streams=streams, layer=None)
            env[spec.block_mask_write_key] = Sym("mask", packer=name)
            env[spec.inner_packed_shapes_write_key] = Sym("shapes", packer=name)
            env[spec.outer_packed_shapes_write_key] = Sym("shapes", packer=name)
            if spec.repa_block_mask_write_key is not None:
                index = spec.repa_patch_index
                if index >= len(streams):
                    _fail(where, f"repa_patch_index={index} but only {len(streams)} streams")
                if streams[index].info["role"] is not Role.PATCHES:
                    _fail(where, "repa_patch_index must point at the patch stream")
                env[spec.repa_block_mask_write_key] = Sym("repa_mask", packer=name)
            packers.append(name)
        elif isinstance(spec, TransformerSpec):
            src = _get(env, spec.input_seq_read_key, where, "packed")
            if src.info["layer"] is not None:
                _fail(where, "a transformer must read a freshly packed sequence")
            packer = src.info["packer"]
            if spec.block_mask_read_key is None:
                _fail(where, "a transformer without the packer's block mask would mix samples")
            mask = _get(env, spec.block_mask_read_key, where, "mask")
            if mask.info["packer"] != packer:
                _fail(where, "block mask and sequence come from different packers")
            if spec.dim != src.info["streams"][0].info["dim"]:
                _fail(where, f"dim={spec.dim} but the packed tokens are wider/narrower")
            if spec.adaLN_emb_read_key is not None:
                temb = _get(env, spec.adaLN_emb_read_key, where, "temb")
                if temb.info["dim"] != spec.dim:
                    _fail(where, "time embedding width differs from the transformer width")
                if spec.adaLN_packing_fn_read_key is None:
                    _fail(where, "adaLN needs the packer's embedding packing function")
                fn = _get(env, spec.adaLN_packing_fn_read_key, where, "packing_fn")
                if fn.info["packer"] != packer or fn.info["n"] != spec.adaLN_expansion:
                    _fail(
                        where,
                        f"adaLN_expansion={spec.adaLN_expansion} must equal the number of "
                        f"packed streams ({fn.info['n']})",
                    )
            layers = spec.intermediate_layers or ()
            for layer in layers:
                if not 0 <= layer < spec.depth:
                    _fail(where, f"intermediate layer {layer} outside 0..{spec.depth - 1}")
            env[spec.output_seq_write_key] = Sym("packed", **{**src.info, "layer": -1})
            if spec.intermediate_layer_write_key is not None:
                env[spec.intermediate_layer_write_key] = Sym(
                    "packed", **{**src.info, "layer": tuple(layers)}
                )
            transformers.append((name, packer))
        elif isinstance(spec, UnpackerSpec):
            src = _get(env, spec.packed_seq_read_key, where, "packed")
            if src.info["layer"] is None:
                _fail(where, "unpacks a sequence that no transformer has processed")
            for k in (spec.inner_packed_shapes_read_key, spec.outer_packed_shapes_read_key):
                if _get(env, k, where, "shapes").info["packer"] != src.info["packer"]:
                    _fail(where, "packed shapes come from a different packer")
            if len(spec.inner_seq_write_keys) != len(src.info["streams"]):
                _fail(where, "must write one key per packed stream")
            layer = src.info["layer"]
            if isinstance(layer, tuple):
                if len(layer) != 1:
                    _fail(where, "unpacking several intermediate layers at once is not supported")
                layer = layer[0]
            for i, k in enumerate(spec.inner_seq_write_keys):
                role = src.info["streams"][i].info["role"]
                env[k] = Sym(
                    "trunk_out",
                    index=i,
                    role=role,
                    layer=layer,
                    dim=src.info["streams"][i].info["dim"],
                    packer=src.info["packer"],
                )
        elif isinstance(spec, LinearHeadSpec):
            src = _get(env, spec.read_key, where, "trunk_out")
            if src.info["layer"] != -1:
                _fail(where, "output heads must read the final transformer layer")
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
            if spec.adaLN_emb_read_key is not None:
                temb = _get(env, spec.adaLN_emb_read_key, where, "temb")
                if temb.info["dim"] != spec.dim:
                    _fail(where, "time embedding width differs from the head width")
                if spec.adaLN_packing_fn_read_key is not None:
                    _fail(where, "a head's adaLN cannot use the packer's per-stream packing fn")
            to_patches = spec.patch_sizes is not None
            if to_patches and src.info["role"] is not Role.PATCHES:
                _fail(where, "ToPatchesLinearHead must read the patch stream")
            env[spec.write_key] = Sym(
                "head_out",
                to_patches=to_patches,
                stream=src.info["index"],
                by=name,
                dim=spec.dim_out,
                spec=spec,
            )
            heads.append((name, src.info["index"], spec))
        elif isinstance(spec, TransformerHeadSpec):
            src = _get(env, spec.read_key, where, "trunk_out")
            if src.info["role"] is not Role.PATCHES or src.info["layer"] == -1:
                _fail(
                    where,
                    "a TransformerHead (REPA) reads the patch tokens of an intermediate layer",
                )
            if spec.dim != src.info["dim"]:
                _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
            if spec.block_mask_read_key is not None:
                m = _get(env, spec.block_mask_read_key, where, "repa_mask")
                if m.info["packer"] != src.info["packer"]:
                    _fail(where, "REPA mask comes from a different packer")
            env[spec.write_key] = Sym("unused", by=name)
            repa.append((name, src.info["layer"], src.info["index"]))
        else:  # pragma: no cover
            raise AssertionError(spec)

    out = env.get(output_key)
    if out is None or out.kind != output_kind:
        _fail(path, f"does not produce {output_key!r} ({output_kind})")
    if len(packers) != 1 or len(transformers) != 1:
        _fail(path, "exactly one packer and one transformer are supported")
    if len(time_embedders) > 1 or len(repa) > 1:
        _fail(path, "at most one time embedder and one REPA head are supported")
    name_t, packer = transformers[0]
    packed = [s for s in env.values() if s.kind == "packed" and s.info["packer"] == packer]
    streams = packed[0].info["streams"]
    if output_kind == "latents_cf" and out.info["source"] != "velocity":
        _fail(path, f"{output_key!r} must be the velocity of a ToPatchesLinearHead")
    head = next(h for h in heads if h[0] == out.info["by"])
    spec_t: TransformerSpec = dict(modules)[name_t]
    if spec_t.adaLN_emb_read_key is not None and not time_embedders:
        _fail(path, "adaLN needs a time embedder")
    repa_head, repa_layer, repa_stream = repa[0] if repa else (None, None, None)
    return TrunkPlan(
        modules=tuple(modules),
        streams=tuple(Stream(s.info["role"], s.info["ops"]) for s in streams),
        packer=packers[0],
        transformer=name_t,
        time_embedder=time_embedders[0] if time_embedders else None,
        head=head[0],
        head_stream=head[1],
        repa_head=repa_head,
        repa_layer=repa_layer,
        repa_stream=repa_stream,
        active=frozenset(active),
    )
