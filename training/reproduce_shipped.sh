#!/usr/bin/env bash
# The exact chain of commands that made assets/demo-model (see README, "The demo model").
# Run from the repository root on a machine with one CUDA GPU. Seeds are fixed; the result
# matches the shipped weights up to floating-point non-determinism (thread counts, GPU kernels).
#
#   bash training/reproduce_shipped.sh [OUT]      # default OUT: runs/reproduced-demo-model
set -euo pipefail
OUT=${1:-runs/reproduced-demo-model}
W=runs/reproduce
T="python -m training.train_demo"
mkdir -p $W/a $W/b $W/c $W/d

# 1. VidTok VAE on the CPU, 2 threads (the shipped one: 69 min on a 2-core machine)
$T --work $W/a --stop-after vae --threads 2

# 2.-3. resampler on the GPU: 30k clips, batch 256. The shipped run trained three times in a
# row, each continuing from the previous EMA weights with a fresh warm-up + cosine schedule (the
# step counts were fitted to the GPU time at hand with --rs-minutes; here they are fixed).
cp $W/a/vae.safetensors $W/b/
$T --work $W/b --device cuda --profile gpu --workers 14 --rs-lr 1.2e-3 --rs-steps 1886 \
   --stop-after resampler
for pair in "b c 1.2e-3 2705" "c d 8e-4 1544"; do
  set -- $pair
  cp $W/a/vae.safetensors $W/$2/ && ln -sf "$PWD/$W/b/latents.safetensors" $W/$2/
  $T --work $W/$2 --device cuda --profile gpu --rs-lr $3 --rs-steps $4 \
     --init $W/$1/resampler.safetensors --stop-after resampler
done

# 1b. the VAE decoder alone, 1,000 steps on the CPU (27 min), the encoder frozen so the
# resampler's latent space is unchanged; then 4. guidance tuned on held-out clips, evaluation,
# config.json + model.safetensors (CPU)
mkdir -p $W/final && cp $W/a/vae.safetensors $W/d/resampler.safetensors $W/final/
$T --work $W/final --out "$OUT" --dec-steps 1000
