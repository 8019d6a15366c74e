#!/usr/bin/env bash
# GPU training speed, one run: the bf16 GEMM ceiling, our training step (GPT-2 124M,
# T=1024, median after warm-up, CUDA events), the PyTorch GPT-2 of the same shape
# (bench/gpt2_torch.py: bf16 autocast, fused AdamW, SDPA, torch.compile), and last the
# ratio ours/PyTorch. Skips (exit 0) without a CUDA build or device.
#   env: GPU_BENCH_B (micro-batch, default 64), GPU_BENCH_STEPS (default 20),
#        BUILD (build dir, default build), TORCH_COMPILE=0 to time eager PyTorch
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD:-$here/../build}
step=$build/bench/gpu_step
B=${GPU_BENCH_B:-64}
N=${GPU_BENCH_STEPS:-20}
if [ ! -x "$step" ]; then echo "gpu: SKIP (no CUDA build: $step missing)"; exit 0; fi
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "gpu: SKIP no CUDA device"; exit 0
fi
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
"$step" --gemm -s 8192 -n 20 || echo "gemm: FAILED"
ours=$("$step" -b "$B" -t 1024 -n "$N" -w 3) || { echo "ours: FAILED"; ours=""; }
echo "$ours"
compile_flag=""
[ "${TORCH_COMPILE:-1}" = 0 ] && compile_flag=--no-compile
torch=$(python3 "$here/gpt2_torch.py" -b "$B" -t 1024 -n "$N" -w 5 $compile_flag) ||
    { echo "torch: FAILED"; torch=""; }
echo "$torch"
tps() { sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p' <<<"$1"; }
o=$(tps "$ours"); t=$(tps "$torch")
if [ -n "$o" ] && [ -n "$t" ]; then
    awk -v o="$o" -v t="$t" -v b="$B" 'BEGIN { printf "ratio ours/pytorch (B=%d T=1024): %.3f (%.0f vs %.0f tokens/s)\n", b, o / t, o, t }'
else
    echo "ratio ours/pytorch: n/a (a run failed)"
fi
