#!/usr/bin/env bash
# gpt2-tokenize encode speed against the npm build of tiktoken, same input, same run:
# a 12 MB mixed corpus (English, European, Cyrillic, Greek, Arabic, Hebrew, Devanagari,
# CJK, Thai, emoji, code, whitespace runs). MB/s by the wall clock and per CPU second
# (the second is steadier on a busy machine). BENCH_BIG=1 also encodes 1 GB of it and
# reports the peak memory.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$top/bin}
. "$top/tests/ref/npm-oracles.sh"
npm_oracles tiktoken
[ -z "$npm_missing" ] || { echo "tokenize bench: $npm_missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
ref=$top/tests/ref/tiktoken.js
node "$ref" corpus 3 12000000 "$T/mixed.txt"
bytes=$(wc -c <"$T/mixed.txt")
cores=$(nproc)

read -r tk_wall tk_cpu tk_n < <(node "$ref" bench "$T/mixed.txt")
# runs gpt2-tokenize; prints "wall-MB/s cpu-MB/s peak-KB"
ours() {
    /usr/bin/time -f '%e %U %S %M' -o "$T/time" "$BIN/gpt2-tokenize" "$@" "$T/mixed.txt" >"$T/out"
    awk -v b="$bytes" '{ printf "%.2f %.2f %d\n", b / 1e6 / $1, b / 1e6 / ($2 + $3), $4 }' "$T/time"
}
read -r w1 c1 _ < <(ours -j1)
read -r wn cn _ < <(ours -j"$cores")
n=$(($(wc -c <"$T/out") / 2))
[ "$n" -eq "$tk_n" ] || { echo "token counts differ: ours $n, tiktoken $tk_n" >&2; exit 1; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
printf 'input: %.1f MB mixed text, %d tokens, %d cores\n' "$(ratio "$bytes" 1e6)" "$n" "$cores"
printf '%-28s %10s %10s %8s\n' "" "MB/s wall" "MB/s cpu" "x tiktoken"
printf '%-28s %10s %10s %8s\n' "tiktoken 1.0.22 (npm, wasm)" "$tk_wall" "$tk_cpu" "1.00"
printf '%-28s %10s %10s %8.2f\n' "gpt2-tokenize -j1" "$w1" "$c1" "$(ratio "$w1" "$tk_wall")"
printf '%-28s %10s %10s %8.2f\n' "gpt2-tokenize -j$cores" "$wn" "$cn" "$(ratio "$wn" "$tk_wall")"
printf 'single thread per CPU second: %.2fx tiktoken\n' "$(ratio "$c1" "$tk_cpu")"

if [ "${BENCH_BIG:-0}" = 1 ]; then
    for _ in $(seq 84); do cat "$T/mixed.txt"; done >"$T/big.txt"
    /usr/bin/time -f '%e %M' -o "$T/time" "$BIN/gpt2-tokenize" "$T/big.txt" >/dev/null
    read -r secs kb <"$T/time"
    printf '1 GB input (%d bytes): %.1f s, peak RSS %d KB\n' "$(wc -c <"$T/big.txt")" "$secs" "$kb"
fi
