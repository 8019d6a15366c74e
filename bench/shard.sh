#!/usr/bin/env bash
# Packing throughput of gpt2-shard from a pipe, uncompressed and zstd, next to `cat` of
# the same bytes into a file (the ceiling), and zstd decode speed. Each time is the best
# of 3 runs. The stream: SHARD_BENCH_STREAM (a token stream file, e.g. real text through
# gpt2-tokenize; repeated to size), else Zipf-distributed ids (python3 + numpy), else
# random ids. Size: SHARD_BENCH_TOKENS (default 100M, in two shards as in real use:
# per-shard costs such as the fsync of each shard count).
set -eu
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
N=${SHARD_BENCH_TOKENS:-100000000}
LEVEL=${SHARD_BENCH_LEVEL:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench-shard.XXXXXX")
trap 'rm -rf "$T"' EXIT
S=$BIN/gpt2-shard
in=$T/stream.bin

PY=
for p in python3 /usr/bin/python3; do
    if "$p" -c 'import numpy' 2>/dev/null; then PY=$p && break; fi
done
if [ -n "${SHARD_BENCH_STREAM:-}" ]; then
    what="$(basename "$SHARD_BENCH_STREAM"), repeated"
    while [ "$(stat -c %s "$in" 2>/dev/null || echo 0)" -lt $((2 * N)) ]; do
        cat "$SHARD_BENCH_STREAM" >>"$in"
    done
    head -c $((2 * N)) "$in" >"$in.cut" && mv "$in.cut" "$in"
elif [ -n "$PY" ]; then
    what="synthetic Zipf(1.1) ids"
    "$PY" -c '
import sys, numpy as np
rng = np.random.default_rng(1)
(rng.zipf(1.1, int(sys.argv[1])) % 50257).astype("<u2").tofile(sys.argv[2])' "$N" "$in"
else
    what="random ids"
    head -c $((2 * N)) /dev/urandom >"$in"
fi
vocab=--vocab-size=65536

best() { # best NAME CMD... : the best wall time of 3 runs, in seconds
    local b= t0 t1 t
    for _ in 1 2 3; do
        rm -rf "$T/out" && mkdir -p "$T/out"
        t0=$(date +%s.%N)
        "$@"
        t1=$(date +%s.%N)
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
        if [ -z "$b" ] || awk -v t="$t" -v b="$b" 'BEGIN { exit !(t < b) }'; then b=$t; fi
    done
    echo "$b"
}
row() { # row NAME SECONDS [NOTE]
    awk -v n="$N" -v name="$1" -v t="$2" -v note="${3:-}" \
        'BEGIN { printf "%-34s %7.3f s %8.1f Mtok/s  %s\n", name, t, n / t / 1e6, note }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

cat "$in" >/dev/null # into the page cache
echo "shard bench: $N tokens ($((2 * N / 1000000)) MB), $what, half of it a val shard, half a train shard"
t_cat=$(best sh -c 'cat "$1" | cat >"$2/out/copy.bin"' _ "$in" "$T")
t_sync=$(best sh -c 'cat "$1" | cat >"$2/out/copy.bin" && sync "$2/out/copy.bin"' _ "$in" "$T")
t_plain=$(best sh -c 'cat "$1" | "$2" '$vocab' --val-tokens $((N / 2)) -o "$3/out/x"' _ "$in" "$S" "$T")
t_zstd=$(best sh -c 'cat "$1" | "$2" '$vocab' --val-tokens $((N / 2)) -z'$LEVEL' -o "$3/out/x"' _ "$in" "$S" "$T")
row "cat | cat > file (ceiling)" "$t_cat"
row "cat | cat > file; fsync" "$t_sync"
row "cat | gpt2-shard" "$t_plain" \
    "$(ratio "$t_plain" "$t_cat") of cat, $(ratio "$t_plain" "$t_sync") of cat+fsync (goal <= 1.5x)"
row "cat | gpt2-shard --zstd=$LEVEL" "$t_zstd" "$(ratio "$t_zstd" "$t_cat") of cat"

# decode: --verify reads every token once (zstd: decompress + CRC-32C)
mkdir -p "$T/p" "$T/z"
cat "$in" | "$S" $vocab --val-tokens $((N / 2)) -o "$T/p/x"
cat "$in" | "$S" $vocab --val-tokens $((N / 2)) -z$LEVEL -o "$T/z/x"
t_vp=$(best sh -c '"$1" '$vocab' --verify "$2"/p/* >/dev/null' _ "$S" "$T")
t_vz=$(best sh -c '"$1" '$vocab' --verify "$2"/z/* >/dev/null' _ "$S" "$T")
t_cz=$(best sh -c '"$1" --cat "$2"/z/x_val_* "$2"/z/x_train_* >/dev/null' _ "$S" "$T")
row "--verify, llm.c shards" "$t_vp"
row "--verify, zstd shards (decode)" "$t_vz" "$(ratio "$t_vz" "$t_vp") of llm.c shards"
row "--cat, zstd shards (decodes twice)" "$t_cz"
zbytes=$(cat "$T"/z/* | wc -c)
pbytes=$(cat "$T"/p/* | wc -c)
echo "zstd level $LEVEL: $pbytes -> $zbytes bytes, compression $(ratio "$pbytes" "$zbytes")"
