#!/usr/bin/env bash
# Data-parallel CPU training step: one process on one thread, 2 MPI ranks on one thread
# each, and one process on 2 threads, at the same tokens per step (-d), on a small GPT-2.
# Prints the median step time (the log's "ms", warm-up step left out) and the speed-up
# over one thread; ranks / threads shows what the gradient reduction and the
# duplicated optimizer work cost against sharing the step's GEMMs between threads.
#   STEPS=n (default 5) steps per run; MODEL=L:NH:C (default 4:4:256).
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
command -v mpirun >/dev/null || { echo "no mpirun (openmpi-bin)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
steps=${STEPS:-5} model=${MODEL:-4:4:256}
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
for i in $(seq 3000); do echo "The cat $i sat on the mat, and the dog ran by the barn $((i * 7))."; done |
    "$BIN/gpt2-tokenize" | "$BIN/gpt2-shard" -o "$T/s" --val-tokens 1024 2>/dev/null
args=(-i "$T/s_train_*.bin" -e "$model" --max-seq-len 64 -t 64 -b 4 -d 2048 -x "$steps" -n 0
    --device cpu --no-progress)
median_ms() { # the median "ms" of the train lines after the first
    sed -n 's/.*"type":"train".*"ms":\([0-9.]*\).*/\1/p' "$1/log.jsonl" | tail -n +2 | sort -n |
        awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'
}
OMP_NUM_THREADS=1 "$BIN/gpt2-train" "${args[@]}" -o "$T/one" 2>/dev/null
OMP_NUM_THREADS=1 mpirun --oversubscribe -np 2 -x OMP_NUM_THREADS "$BIN/gpt2-train" "${args[@]}" -o "$T/ranks" 2>/dev/null
OMP_NUM_THREADS=2 "$BIN/gpt2-train" "${args[@]}" -o "$T/threads" 2>/dev/null
one=$(median_ms "$T/one") ranks=$(median_ms "$T/ranks") threads=$(median_ms "$T/threads")
echo "model $model, B=4 T=64, 2048 tokens per step, median of $((steps - 1)) steps"
printf '%-26s %10s %8s\n' run ms/step speed-up
for r in "1 process, 1 thread:$one" "2 ranks, 1 thread each:$ranks" "1 process, 2 threads:$threads"; do
    printf '%-26s %10.1f %7.2fx\n' "${r%%:*}" "${r##*:}" "$(awk -v a="$one" -v b="${r##*:}" 'BEGIN { print a / b }')"
done
awk -v a="$ranks" -v b="$threads" 'BEGIN { printf "2 ranks / 2 threads: %.2f (above 1: the ranks are slower)\n", a / b }'
