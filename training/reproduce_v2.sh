#!/usr/bin/env bash
# The chain of commands that makes demo model v2 on a CPU (README, "The demo model"), resumable:
# every stage keeps its state under RUN, so running this again after an interruption (a lost
# session, a SIGTERM, --session-minutes) continues where it stopped. A stage that stopped
# before its end exits with status 75, and the chain stops with it.
#
#   bash training/reproduce_v2.sh [OUT]   # default OUT: runs/reproduced-demo-model-v2
#   RUN=DIR MINUTES=M bash training/reproduce_v2.sh OUT   # state in DIR; a stage stops after M min
#
# The shipped run: 2-core AMD EPYC (AVX-512-BF16), bf16 autocast where the precision check
# allowed it. Seeds are fixed and the schedule is the same however it is cut into sessions;
# the result matches the shipped weights up to floating-point non-determinism (CPU kind,
# thread counts).
set -euo pipefail
OUT=${1:-runs/reproduced-demo-model-v2}
RUN=${RUN:-$HOME/.cache/videoflextok-train/v2-reproduce}
C=(python -m training.campaign --run "$RUN")
S=()
if [ -n "${MINUTES:-}" ]; then S=(--session-minutes "$MINUTES"); fi

[ -f "$RUN/precision_check.json" ] || "${C[@]}" precision-check   # bf16 vs fp32, 200 steps each
"${C[@]}" vae "${S[@]}"         # 12,000 steps: 9-frame clips at batch 8, then 17 at batch 4
"${C[@]}" latents "${S[@]}"     # 16,000 clips through the frozen EMA VAE, latent scale folded in
"${C[@]}" resampler "${S[@]}"   # 8,000 steps at batch 16, warm started from the v1 resampler
"${C[@]}" decoder "${S[@]}"     # 1,000 steps: the VAE decoder on the resampler's outputs
"${C[@]}" finish --out "$OUT"   # steps x guidance tuned, fp16 export, round trip checked
