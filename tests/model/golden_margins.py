"""Print the golden checks' margins on this machine: python tests/model/golden_margins.py [names]

For every fixture and check of tests/model/test_golden.py: err = max|port32 - golden|, the bound
C * noise + floor with noise = max|port32 - port64|, margin = bound / err (> 1 passes), and
g-p64 = max|golden - port64| (the golden's distance from the float64 value). Ids/codes rows give
the values that differ outside FSQ rounding-boundary positions (must be 0), the boundary
positions and how many of them flipped. Optional arguments select fixtures by name.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parents[1])]

import torch  # noqa: E402
from test_golden import FIXTURES, RUNS, fixture_id, make_fixture, needs_video, verify  # noqa: E402


def main(names: list[str]) -> int:
    torch.set_num_threads(2)
    failed = 0
    print(
        f"{'fixture':36} {'check':52} {'err':>8} {'bound':>8} {'margin':>7} {'noise':>8} "
        f"{'g-p64':>8}"
    )
    for path in FIXTURES:
        if names and fixture_id(path) not in names:
            continue
        fx = make_fixture(path)
        for run in RUNS:
            if needs_video(run) and "input_video" not in fx.golden:
                continue
            for r in verify(fx, run):
                failed += not r.ok
                check = f"{run.__name__[4:]}: {r.name}"[:52]
                flag = "" if r.ok else "  FAIL"
                if r.kind == "float":
                    print(
                        f"{fx.name:36} {check:52} {r.err:8.2e} {r.bound:8.2e} {r.margin:7.1f} "
                        f"{r.noise:8.2e} {r.golden_dev:8.2e}{flag}"
                    )
                elif r.kind == "exact":
                    print(f"{fx.name:36} {check:52} {r.err:8.0f} differ{flag}")
                else:
                    print(
                        f"{fx.name:36} {check:52} {r.err:8.0f} differ, {r.boundary} at a "
                        f"boundary (threshold {r.bound:.1e}), {r.flipped} flipped{flag}"
                    )
    print(f"{failed} checks fail")
    return int(failed > 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
