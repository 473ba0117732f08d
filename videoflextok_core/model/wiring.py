"""Follow the data keys of an encoder / decoder module_dict, once, symbolically.

Upstream modules talk through string keys of a shared dict (`read_key`, `write_key`, ...).
`resolve_trunk` walks the modules in file order, tracks what each key holds (VAE latents, a token
stream and the modules applied to it, a packed sequence, a mask, a head output, ...) and returns a
`TrunkPlan`. Anything it cannot place raises `UnsupportedConfigError` naming the module's path.
The plan names modules, roles and streams; no data key survives in it.

One small tracer per module class, in the table `TRACERS` (spec class -> tracer), as config.py's
`TARGETS` maps each `_target_` to its builder: a tracer reads the keys its module reads, checks
what they hold, and records what its module writes.
"""

import math
from collections.abc import Callable

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


TokenDropoutSpec = NestedDropoutSpec | PrefixDropoutSpec | NullCondSpec


def _eval_key(spec: TokenDropoutSpec) -> str | None:
    """The data key a token-dropout module reads its inference input from."""
    if isinstance(spec, NestedDropoutSpec):
        return spec.eval_keep_k_read_key
    if isinstance(spec, PrefixDropoutSpec):
        return spec.eval_prefix_len_read_key
    return spec.eval_drop_flag_read_key


class Trace:
    """What a walk through one module_dict knows so far: what each data key holds (`env`) and
    the modules that make up the plan."""

    def __init__(self, inputs: dict[str, Sym], eval_inputs: dict[str, type]):
        self.env = dict(inputs)
        self.eval_inputs = eval_inputs  # data key upstream's inference sets -> module class
        self.packers: list[str] = []
        self.transformers: list[tuple[str, str]] = []  # (transformer, its packer)
        self.time_embedders: list[str] = []
        self.heads: list[tuple[str, int, LinearHeadSpec]] = []  # (head, stream index, spec)
        self.repa: list[tuple[str, int, int]] = []  # (REPA head, layer, stream index)
        self.active: set[str] = set()  # token-dropout modules an inference input reaches

    def get(self, key: str, where: str, *kinds: str) -> Sym:
        """What `key` holds; an error naming `where` if nothing does or it holds another kind."""
        sym = self.env.get(key)
        if sym is None:
            _fail(where, f"reads {key!r}, which nothing before it provides")
        if kinds and sym.kind not in kinds:
            _fail(where, f"reads {key!r} holding {sym.kind}; expected {' or '.join(kinds)}")
        return sym


def _extend(src: Sym, name: str, **info) -> Sym:
    """A stream `src` after module `name` (and with `info` changed)."""
    return Sym("stream", **{**src.info, "ops": src.info["ops"] + (name,), **info})


# ---------------------------------------------------------------------------------------------
# The tracers, one per module class
# ---------------------------------------------------------------------------------------------


def _per_sample_op(tr: Trace, name: str, spec: PerSampleOpSpec, where: str) -> None:
    src = tr.get(spec.read_key, where, "latents_cf", "latents_cl", "head_out")
    if spec.op == "channels_first_to_last" and src.kind == "latents_cf":
        tr.env[spec.write_key] = Sym("latents_cl", **src.info)
    elif spec.op == "channels_last_to_first" and src.kind == "head_out":
        if not src.info["to_patches"]:
            _fail(where, "channels_last_to_first expects the output of a patches head")
        tr.env[spec.write_key] = Sym("latents_cf", source="velocity", by=src.info["by"])
    elif spec.op == "channels_last_to_first" and src.kind == "latents_cl":
        tr.env[spec.write_key] = Sym("latents_cf", **src.info)
    else:
        _fail(where, f"{spec.op} applied to {src.kind} is not understood")


def _patch_embedder(tr: Trace, name: str, spec: PatchEmbedderSpec, where: str) -> None:
    src = tr.get(spec.input_tensor_list_read_key, where, "latents_cl")
    if spec.flatten_patches:
        _fail(where, "flatten_patches=True cannot be interleaved per latent frame")
    if len(spec.patch_sizes) != 3 or spec.patch_sizes[0] != 1:
        _fail(where, f"patch_sizes must be [1, ph, pw], got {list(spec.patch_sizes)}")
    dim = spec.dim if spec.dim is not None else spec.channels_in * math.prod(spec.patch_sizes)
    tr.env[spec.patches_list_write_key] = Sym(
        "stream",
        role=Role.PATCHES,
        ops=(name,),
        dim=dim,
        source=src.info["source"],
        patch_sizes=spec.patch_sizes,
    )


def _registers(tr: Trace, name: str, spec: RegistersSpec, where: str) -> None:
    tr.get(spec.input_tensor_list_read_key, where, "stream")
    tr.env[spec.registers_write_key] = Sym(
        "stream", role=Role.REGISTERS, ops=(name,), dim=spec.dim, source="learned"
    )
    if spec.extra_registers_write_key is not None:
        tr.env[spec.extra_registers_write_key] = Sym("unused", by=name)


def _linear_layer(tr: Trace, name: str, spec: LinearLayerSpec, where: str) -> None:
    src = tr.get(spec.read_key, where, "quants", "stream")
    if src.kind == "quants":
        if spec.dim_in != src.info["dim"]:
            _fail(where, f"dim_in={spec.dim_in} but the FSQ has {src.info['dim']} channels")
        tr.env[spec.write_key] = Sym(
            "stream", role=Role.REGISTERS, ops=(name,), dim=spec.dim, source="quants"
        )
        return
    if spec.dim_in != src.info["dim"]:
        _fail(where, f"dim_in={spec.dim_in} but the stream is {src.info['dim']} wide")
    tr.env[spec.write_key] = _extend(src, name, dim=spec.dim)


def _posemb(tr: Trace, name: str, spec: PosEmbSpec, where: str) -> None:
    src = tr.get(spec.read_key, where, "stream")
    role = src.info["role"]
    rank = 3 if role is Role.PATCHES else 2
    if len(spec.max_sizes) != rank:
        _fail(where, f"{len(spec.max_sizes)}-D posemb on {role.value} ({rank}-D)")
    if spec.dim != src.info["dim"]:
        _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
    if spec.posemb_scaling == "interpolate" and rank != 2:
        _fail(where, "interpolated positional embeddings are 2-D only")
    if spec.posemb_write_key is not None:
        tr.env[spec.posemb_write_key] = Sym("unused", by=name)
    tr.env[spec.write_key] = _extend(src, name)


def _token_dropout(tr: Trace, name: str, spec: TokenDropoutSpec, where: str) -> None:
    """Nested dropout, prefix masking and the null condition: in place on a register stream;
    `active` when upstream's inference sets the key it reads (`eval_inputs`)."""
    key = spec.read_write_key
    src = tr.get(key, where, "stream")
    if src.info["role"] is not Role.REGISTERS:
        _fail(where, "token dropout / null condition only apply to register streams")
    if spec.dim != src.info["dim"]:
        _fail(where, f"dim={spec.dim} but the stream is {src.info['dim']} wide")
    if any(other is src for k, other in tr.env.items() if k != key):
        _fail(where, f"{key!r} is modified in place while another key aliases it")
    tr.env[key] = _extend(src, name)
    eval_key = _eval_key(spec)
    if eval_key is not None and tr.eval_inputs.get(eval_key) is type(spec):
        tr.active.add(name)


def _time_embedder(tr: Trace, name: str, spec: TimeEmbedderSpec, where: str) -> None:
    tr.get(spec.timesteps_read_key, where, "timesteps")
    tr.env[spec.time_embedding_write_key] = Sym("temb", dim=spec.dim, by=name)
    tr.time_embedders.append(name)


def _packer(tr: Trace, name: str, spec: PackerSpec, where: str) -> None:
    streams = [tr.get(k, where, "stream") for k in spec.input_list_read_keys]
    if len({s.info["dim"] for s in streams}) != 1:
        _fail(where, "packed streams must have the same width")
    if spec.emb_packing_fn_write_key is not None:
        if not spec.per_subseq_embs:
            _fail(where, "per_subseq_embs=False is not implemented upstream")
        tr.env[spec.emb_packing_fn_write_key] = Sym("packing_fn", packer=name, n=len(streams))
    tr.env[spec.packed_seq_write_key] = Sym("packed", packer=name, streams=streams, layer=None)
    tr.env[spec.block_mask_write_key] = Sym("mask", packer=name)
    tr.env[spec.inner_packed_shapes_write_key] = Sym("shapes", packer=name)
    tr.env[spec.outer_packed_shapes_write_key] = Sym("shapes", packer=name)
    if spec.repa_block_mask_write_key is not None:
        index = spec.repa_patch_index
        if index >= len(streams):
            _fail(where, f"repa_patch_index={index} but only {len(streams)} streams")
        if streams[index].info["role"] is not Role.PATCHES:
            _fail(where, "repa_patch_index must point at the patch stream")
        tr.env[spec.repa_block_mask_write_key] = Sym("repa_mask", packer=name)
    tr.packers.append(name)


def _transformer(tr: Trace, name: str, spec: TransformerSpec, where: str) -> None:
    src = tr.get(spec.input_seq_read_key, where, "packed")
    if src.info["layer"] is not None:
        _fail(where, "a transformer must read a freshly packed sequence")
    packer = src.info["packer"]
    if spec.block_mask_read_key is None:
        _fail(where, "a transformer without the packer's block mask would mix samples")
    mask = tr.get(spec.block_mask_read_key, where, "mask")
    if mask.info["packer"] != packer:
        _fail(where, "block mask and sequence come from different packers")
    if spec.dim != src.info["streams"][0].info["dim"]:
        _fail(where, f"dim={spec.dim} but the packed tokens are wider/narrower")
    if spec.adaLN_emb_read_key is not None:
        temb = tr.get(spec.adaLN_emb_read_key, where, "temb")
        if temb.info["dim"] != spec.dim:
            _fail(where, "time embedding width differs from the transformer width")
        if spec.adaLN_packing_fn_read_key is None:
            _fail(where, "adaLN needs the packer's embedding packing function")
        fn = tr.get(spec.adaLN_packing_fn_read_key, where, "packing_fn")
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
    tr.env[spec.output_seq_write_key] = Sym("packed", **{**src.info, "layer": -1})
    if spec.intermediate_layer_write_key is not None:
        tr.env[spec.intermediate_layer_write_key] = Sym(
            "packed", **{**src.info, "layer": tuple(layers)}
        )
    tr.transformers.append((name, packer))


def _unpacker(tr: Trace, name: str, spec: UnpackerSpec, where: str) -> None:
    src = tr.get(spec.packed_seq_read_key, where, "packed")
    if src.info["layer"] is None:
        _fail(where, "unpacks a sequence that no transformer has processed")
    for k in (spec.inner_packed_shapes_read_key, spec.outer_packed_shapes_read_key):
        if tr.get(k, where, "shapes").info["packer"] != src.info["packer"]:
            _fail(where, "packed shapes come from a different packer")
    if len(spec.inner_seq_write_keys) != len(src.info["streams"]):
        _fail(where, "must write one key per packed stream")
    layer = src.info["layer"]
    if isinstance(layer, tuple):
        if len(layer) != 1:
            _fail(where, "unpacking several intermediate layers at once is not supported")
        layer = layer[0]
    for i, k in enumerate(spec.inner_seq_write_keys):
        stream = src.info["streams"][i].info
        tr.env[k] = Sym(
            "trunk_out",
            index=i,
            role=stream["role"],
            layer=layer,
            dim=stream["dim"],
            packer=src.info["packer"],
        )


def _linear_head(tr: Trace, name: str, spec: LinearHeadSpec, where: str) -> None:
    src = tr.get(spec.read_key, where, "trunk_out")
    if src.info["layer"] != -1:
        _fail(where, "output heads must read the final transformer layer")
    if spec.dim != src.info["dim"]:
        _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
    if spec.adaLN_emb_read_key is not None:
        temb = tr.get(spec.adaLN_emb_read_key, where, "temb")
        if temb.info["dim"] != spec.dim:
            _fail(where, "time embedding width differs from the head width")
        if spec.adaLN_packing_fn_read_key is not None:
            _fail(where, "a head's adaLN cannot use the packer's per-stream packing fn")
    to_patches = spec.patch_sizes is not None
    if to_patches and src.info["role"] is not Role.PATCHES:
        _fail(where, "ToPatchesLinearHead must read the patch stream")
    tr.env[spec.write_key] = Sym(
        "head_out",
        to_patches=to_patches,
        stream=src.info["index"],
        by=name,
        dim=spec.dim_out,
        spec=spec,
    )
    tr.heads.append((name, src.info["index"], spec))


def _transformer_head(tr: Trace, name: str, spec: TransformerHeadSpec, where: str) -> None:
    src = tr.get(spec.read_key, where, "trunk_out")
    if src.info["role"] is not Role.PATCHES or src.info["layer"] == -1:
        _fail(where, "a TransformerHead (REPA) reads the patch tokens of an intermediate layer")
    if spec.dim != src.info["dim"]:
        _fail(where, f"dim={spec.dim} but the tokens are {src.info['dim']} wide")
    if spec.block_mask_read_key is not None:
        m = tr.get(spec.block_mask_read_key, where, "repa_mask")
        if m.info["packer"] != src.info["packer"]:
            _fail(where, "REPA mask comes from a different packer")
    tr.env[spec.write_key] = Sym("unused", by=name)
    tr.repa.append((name, src.info["layer"], src.info["index"]))


# spec class -> tracer(trace, name, spec, where): every module class a trunk may hold
TRACERS: dict[type, Callable[[Trace, str, ModuleSpec, str], None]] = {
    PerSampleOpSpec: _per_sample_op,
    PatchEmbedderSpec: _patch_embedder,
    RegistersSpec: _registers,
    LinearLayerSpec: _linear_layer,
    PosEmbSpec: _posemb,
    NestedDropoutSpec: _token_dropout,
    PrefixDropoutSpec: _token_dropout,
    NullCondSpec: _token_dropout,
    TimeEmbedderSpec: _time_embedder,
    PackerSpec: _packer,
    TransformerSpec: _transformer,
    UnpackerSpec: _unpacker,
    LinearHeadSpec: _linear_head,
    TransformerHeadSpec: _transformer_head,
}


# ---------------------------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------------------------


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
    tr = Trace(inputs, eval_inputs or {})
    for name, spec in modules:
        TRACERS[type(spec)](tr, name, spec, f"{path}.module_dict.{name}")

    out = tr.env.get(output_key)
    if out is None or out.kind != output_kind:
        _fail(path, f"does not produce {output_key!r} ({output_kind})")
    if len(tr.packers) != 1 or len(tr.transformers) != 1:
        _fail(path, "exactly one packer and one transformer are supported")
    if len(tr.time_embedders) > 1 or len(tr.repa) > 1:
        _fail(path, "at most one time embedder and one REPA head are supported")
    name_t, packer = tr.transformers[0]
    packed = [s for s in tr.env.values() if s.kind == "packed" and s.info["packer"] == packer]
    streams = packed[0].info["streams"]
    if output_kind == "latents_cf" and out.info["source"] != "velocity":
        _fail(path, f"{output_key!r} must be the velocity of a ToPatchesLinearHead")
    head = next(h for h in tr.heads if h[0] == out.info["by"])
    spec_t: TransformerSpec = dict(modules)[name_t]
    if spec_t.adaLN_emb_read_key is not None and not tr.time_embedders:
        _fail(path, "adaLN needs a time embedder")
    repa_head, repa_layer, repa_stream = tr.repa[0] if tr.repa else (None, None, None)
    return TrunkPlan(
        modules=tuple(modules),
        streams=tuple(Stream(s.info["role"], s.info["ops"]) for s in streams),
        packer=tr.packers[0],
        transformer=name_t,
        time_embedder=tr.time_embedders[0] if tr.time_embedders else None,
        head=head[0],
        head_stream=head[1],
        repa_head=repa_head,
        repa_layer=repa_layer,
        repa_stream=repa_stream,
        active=frozenset(tr.active),
    )
