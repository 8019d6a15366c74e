#!/usr/bin/env bash
# gpt2-sample speed: tokens/s generating N (256) tokens after a P (64) token prompt with
# a randomly initialised d12 (124M) on the CPU, at 1 thread and at all threads, with the
# key/value cache and with the no-cache path (--no-cache: the CPU backend's full forward
# over the whole context for every token), measured in the same run; prints the ratio.
# Greedy decoding with --ignore-eot, so both paths compute the same tokens.
# Environment: BIN (bin dir), N, P, THREADS (default "1 <all cores>"), MODEL (a model
# file to use instead of the random d12), DEVICE (cpu, the default, or cuda: both paths
# on the GPU, where THREADS only sets the host's threads and defaults to 1).
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/bin}
N=${N:-256}
P=${P:-64}
DEVICE=${DEVICE:-cpu}
if [ "$DEVICE" = cuda ]; then THREADS=${THREADS:-1}; else THREADS=${THREADS:-"1 $(nproc)"}; fi
# these two (set on this project's machines for old OpenBLAS builds) slow the current one
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench-sample.XXXXXX")
trap 'rm -rf "$T"' EXIT
MODEL=${MODEL:-}
if [ -z "$MODEL" ]; then
    MODEL=$T/d12.bin
    [ -x "$TOP/build/tests/helpers/sample_model" ] ||
        make -s -C "$TOP" build/tests/helpers/sample_model >/dev/null
    "$TOP/build/tests/helpers/sample_model" "$MODEL" 12 12 768 1024 1
fi
seq 1000 $((1000 + P - 1)) >"$T/prompt.txt"

# tokens/s of generation (prompt and model load excluded), from --stats
rate() {
    OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 "$BIN/gpt2-sample" -m "$MODEL" --tokens \
        --format text -t 0 -n "$N" --ignore-eot --stats --device "$DEVICE" "${@:2}" "$T/prompt.txt" \
        2>"$T/stats" >"$T/out.$1${2:-}" || { cat "$T/stats" >&2; exit 1; }
    sed -n 's/.*(\([0-9.]*\) tokens\/s).*/\1/p' "$T/stats"
}
echo "gpt2-sample, d12, $P-token prompt + $N generated tokens, greedy, --device $DEVICE ($(nproc) cores)"
printf '%-8s %14s %14s %8s\n' threads "cache tok/s" "no-cache tok/s" ratio
for th in $THREADS; do
    c=$(rate "$th")
    n=$(rate "$th" --no-cache)
    cmp -s "$T/out.$th" "$T/out.$th--no-cache" || echo "warning: the two paths generated different tokens" >&2
    awk -v t="$th" -v c="$c" -v n="$n" 'BEGIN { printf "%-8s %14s %14s %7.1fx\n", t, c, n, c / n }'
done
