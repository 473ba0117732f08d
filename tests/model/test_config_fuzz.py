"""Seeded fuzzing of the config interpreter: a malformed or hostile config is refused by path.

Each case mutates `real_config_inferred.json` once (a dropped or added key, a null, a string for a
number, a wrong type, a negative / zero / huge / non-finite number, a renamed module, a rewired
data key, a list of another length, a hostile `_target_`, ...) and builds the model on the meta
device. The only acceptable outcomes are a model or an `UnsupportedConfigError` whose message
starts with a path of the mutated config ("video_flex_tok.decoder.module_dict.dec_x.dim: ...";
its last part may be the key it reports missing). Anything else (TypeError, RuntimeError, ...)
is a hole in the interpreter.
"""

import copy
import json
import random
import re
from collections import Counter

import torch
from paths import REFERENCE

from videoflextok_core.model import VideoFlexTok
from videoflextok_core.model.config import ALLOWED_TARGETS, UnsupportedConfigError

REAL = json.loads((REFERENCE / "real_config_inferred.json").read_text())
N_CASES = 240

HOSTILE_TARGETS = [
    "os.system",
    "builtins.eval",
    "builtins.exec",
    "torch.load",
    "subprocess.Popen",
    "pickle.loads",
    "videoflextok.wrappers.VideoFlexTok.__init__",
    "videoflextok.model.trunks.transformers.FlexTransformer ",  # trailing space
    "",
    1,
    None,
    ["os.system"],
    {"_target_": "os.system"},
]
WRONG_VALUES = [True, False, 0, 1, -1, 1.5, "x", "256", [], [1, 2], ["a"], {}, {"a": 1}, None]
BAD_NUMBERS = [-1, 0, -0.5, 0.5, 1.5, 10**12, 2**63, 10**400, 1e308, float("nan"), float("inf")]
ODD_NAMES = ["keys", "forward", "training", "a.b", "", "_hidden", "0abc", "x" * 300, "dec_new"]


def sites(node, path=""):
    """Every (container, key, path) below node, in a fixed order; paths as the interpreter
    writes them (`a.b[2].c`)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        if isinstance(node, dict):
            sub = f"{path}.{key}" if path else key
        else:
            sub = f"{path}[{key}]"
        yield node, key, sub
        if isinstance(value, dict | list):
            yield from sites(value, sub)


def is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def rename(d: dict, old: str, new: str) -> None:
    """Rename a key in place, keeping the order (a clash drops the other entry)."""
    items = [(new if k == old else k, v) for k, v in d.items() if k != new or k == old]
    d.clear()
    d.update(items)


def mutate(cfg: dict, rng: random.Random) -> tuple[str, str]:
    """Apply one random mutation in place; returns (kind, description)."""
    all_sites = list(sites(cfg))
    dict_sites = [s for s in all_sites if isinstance(s[0], dict)]
    numbers = [s for s in all_sites if is_number(s[0][s[1]])]
    strings = [s for s in all_sites if isinstance(s[0][s[1]], str) and s[1] != "_target_"]
    lists = [s for s in all_sites if isinstance(s[0][s[1]], list)]
    targets = [s for s in all_sites if s[1] == "_target_"]
    modules = [s for s in all_sites if s[2].count(".module_dict.") == 1 and s[2].count(".") == 3]
    keys = sorted({v for c, k, _ in strings for v in [c[k]]})
    kind = rng.choice(
        ["drop", "add", "null", "string", "type", "number", "rename", "target", "list", "rewire"]
        + ["overrides", "swap"]
    )
    if kind == "drop":
        c, k, p = rng.choice(dict_sites)
        del c[k]
        return kind, f"drop {p}"
    if kind == "add":
        c, k, p = rng.choice([s for s in dict_sites if isinstance(s[0][s[1]], dict)])
        c[k][f"bogus_{rng.randrange(100)}"] = rng.choice(WRONG_VALUES)
        return kind, f"add a key to {p}"
    if kind == "null":
        c, k, p = rng.choice(all_sites)
        c[k] = None
        return kind, f"{p} = null"
    if kind == "string":
        c, k, p = rng.choice(numbers)
        c[k] = str(c[k])
        return kind, f"{p} = {c[k]!r}"
    if kind == "type":
        c, k, p = rng.choice(all_sites)
        c[k] = copy.deepcopy(rng.choice([v for v in WRONG_VALUES if type(v) is not type(c[k])]))
        return kind, f"{p} = {c[k]!r}"
    if kind == "number":
        c, k, p = rng.choice(numbers)
        c[k] = rng.choice(BAD_NUMBERS + [c[k] * 2, c[k] + 1, c[k] * 3])
        return kind, f"{p} = {c[k]!r}"
    if kind == "rename":
        c, k, p = rng.choice(modules)
        siblings = [n for n in c if n != k]
        new = rng.choice(ODD_NAMES + siblings + [f"{k}_renamed", "dec_nested_dropout"])
        rename(c, k, new)
        return kind, f"rename {p} -> {new!r}"
    if kind == "target":  # "hostile" when outside the allow-list
        c, k, p = rng.choice(targets)
        c[k] = copy.deepcopy(rng.choice(HOSTILE_TARGETS + list(ALLOWED_TARGETS)))
        return ("target" if c[k] in ALLOWED_TARGETS else "hostile"), f"{p} = {c[k]!r}"
    if kind == "list":
        c, k, p = rng.choice(lists)
        values = c[k]
        op = rng.choice(["empty", "append", "pop", "nest"])
        if op == "empty":
            values.clear()
        elif op == "append":
            values.append(copy.deepcopy(values[-1]) if values else 1)
        elif op == "pop" and values:
            values.pop(rng.randrange(len(values)))
        else:
            c[k] = [values]
        return kind, f"{op} {p}"
    if kind == "rewire":
        c, k, p = rng.choice(strings)
        c[k] = rng.choice(keys)
        return kind, f"{p} = {c[k]!r}"
    if kind == "overrides":
        key = rng.choice(["ch", "ch_mult", "num_res_blocks", "z_channels", "norm_type", "bogus"])
        value = rng.choice(BAD_NUMBERS + WRONG_VALUES + [[1, 2, 4, 4], [0, 1, 1, 1], "groupnorm"])
        cfg["vidtok_overrides"] = {key: copy.deepcopy(value)}
        return kind, f"vidtok_overrides = {{{key!r}: {value!r}}}"
    # swap two modules of one module_dict: a different order, often a different wiring
    c, k, p = rng.choice(modules)
    other = rng.choice(list(c))
    items = list(c.items())
    i, j = [n for n, _ in items].index(k), [n for n, _ in items].index(other)
    items[i], items[j] = items[j], items[i]
    c.clear()
    c.update(items)
    return kind, f"swap {p} with {other}"


def resolves(cfg, path: str) -> bool:
    """Whether `path` (a.b[2].c) names a place in cfg; its last part may be a missing key."""
    if path == "":
        return True
    if isinstance(cfg, list):
        if not path.startswith("["):
            return False
        index, _, rest = path[1:].partition("]")
        if not index.isdigit() or int(index) >= len(cfg):
            return False
        return resolves(cfg[int(index)], rest.removeprefix("."))
    if not isinstance(cfg, dict):
        return False
    for key, value in cfg.items():
        if path == key:
            return True
        for sep in (".", "["):
            if path.startswith(key + sep):
                rest = path[len(key) + (sep == ".") :]
                if resolves(value, rest):
                    return True
    return re.fullmatch(r"\w+", path) is not None  # a key the node lacks (reported missing)


def test_mutated_real_configs_build_or_are_refused_by_path():
    counts, by_kind, problems = Counter(), Counter(), []
    for seed in range(N_CASES):
        rng = random.Random(seed)
        cfg = copy.deepcopy(REAL)
        kind, what = mutate(cfg, rng)
        try:
            with torch.device("meta"):
                VideoFlexTok(cfg)
        except UnsupportedConfigError as e:
            outcome = "refused"
            where = str(e).split(": ", 1)[0]
            if not resolves(cfg, where):
                problems.append(f"seed {seed} ({what}): no config path in {str(e)[:120]!r}")
            if kind == "hostile" and "allow-list" not in str(e):
                problems.append(f"seed {seed} ({what}): refused, but not by the allow-list: {e}")
        except Exception as e:  # noqa: BLE001 - any other exception is the bug this test hunts
            outcome = "raw"
            problems.append(f"seed {seed} ({what}): {type(e).__name__}: {str(e)[:120]}")
        else:
            outcome = "built"
            if kind == "hostile":
                problems.append(f"seed {seed} ({what}): a target outside the allow-list built")
        counts[outcome] += 1
        by_kind[kind, outcome] += 1
    table = ", ".join(f"{k} {o} {n}" for (k, o), n in sorted(by_kind.items()))
    print(f"\n{N_CASES} mutations: {dict(counts)}\n{table}")
    assert not problems, "\n".join(problems)
    # Both outcomes occur: the mutations are neither all fatal nor all harmless.
    assert counts["built"] >= N_CASES // 20 and counts["refused"] >= N_CASES // 2, counts


def test_unmutated_real_config_builds_and_paths_resolve():
    """The harness itself: the real config builds, and `resolves` accepts real paths only."""
    with torch.device("meta"):
        VideoFlexTok(copy.deepcopy(REAL))
    assert resolves(REAL, "video_flex_tok.decoder.module_dict.dec_transformer.depth")
    assert resolves(REAL, "video_flex_tok.encoder.module_dict.enc_patch_emb.patch_sizes[2]")
    assert resolves(REAL, "video_flex_tok.decoder.module_dict.dec_transformer.missing_key")
    assert not resolves(REAL, "video_flex_tok.decoder.module_dict.nowhere.depth")
    assert not resolves(REAL, "video_flex_tok.encoder.module_dict.enc_patch_emb.patch_sizes[3]")
    assert not resolves(REAL, "config is not a JSON object")
