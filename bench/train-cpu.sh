#!/usr/bin/env bash
# CPU training step (forward, backward, clip, AdamW) of our model against the PyTorch
# reference (tests/ref/gpt2_ref.py, same shapes, torch on OpenBLAS) in the same run, at 1
# and 2 threads: GPT-2 d12 at B=4, T=64 (llm.c's CPU demo shape) and a small config.
# Prints wall and CPU (all threads) seconds per step and the ratios torch / ours (above 1:
# we are faster). On a shared machine the wall times wander; CPU time shows the work.
#   STEPS=n (default 3) timed steps after one warm-up step.
set -eu
TOP=$(cd "$(dirname "$0")/.." && pwd)
bench=$TOP/build/tests/helpers/model_bench
[ -x "$bench" ] || { echo "build first: make" >&2; exit 1; }
steps=${STEPS:-3}
have_torch=1
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || have_torch=0
# These variables work around old OpenBLAS builds and slow the current one (see DESIGN.md).
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE

fmt='%-20s %3s %4s %3s %9s %9s %9s %9s %8s %8s\n'
printf "$fmt" config B T thr ours_wall ours_cpu torch_wall torch_cpu x_wall x_cpu
run() { # run NAME CONFIG L NH C V B T
    local name=$1 cfg=$2 L=$3 NH=$4 C=$5 V=$6 B=$7 T=$8 th ow oc rw rc xw xc
    for th in 1 2; do
        read -r ow oc < <(OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th "$bench" "$cfg" "$B" "$T" "$steps" 2>/dev/null)
        rw=- rc=- xw=- xc=-
        if [ $have_torch = 1 ]; then
            read -r rw rc < <(cd "$TOP/tests/ref" && OMP_NUM_THREADS=$th OPENBLAS_NUM_THREADS=$th \
                /usr/bin/python3 bench_ref.py "$L" "$NH" "$C" "$V" "$B" "$T" "$steps")
            xw=$(awk -v a="$rw" -v b="$ow" 'BEGIN { printf "%.2fx", a / b }')
            xc=$(awk -v a="$rc" -v b="$oc" 'BEGIN { printf "%.2fx", a / b }')
        fi
        printf "$fmt" "$name" "$B" "$T" "$th" "$ow" "$oc" "$rw" "$rc" "$xw" "$xc"
    done
}
run d12 d12 12 12 768 50257 4 64
run "small 6L/6H/384C" 6:6:384:50257 6 6 384 50257 8 128
