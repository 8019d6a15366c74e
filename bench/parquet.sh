#!/usr/bin/env bash
# Parquet input: how fast the reader extracts text from a snappy Parquet file alone, and
# gpt2-tokenize --parquet against --jsonl on the same documents, same run. The input is
# made here with DuckDB: documents of 20 lines of the demo corpus, repeated to about
# BENCH_PARQUET_MB (default 300) MB of text, in FineWeb's shape (row groups of 1000
# documents, snappy). Goal: reading Parquet costs under 10% of the tokenization time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$top/bin}
dump=${BUILD:-$top/build}/tests/helpers/parquet_dump
. "$top/tests/ref/npm-oracles.sh"
npm_oracles @duckdb/node-api hyparquet hyparquet-compressors hyparquet-writer
[ -z "$npm_missing" ] || { echo "parquet bench: $npm_missing" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
zstd -dc "$top/data/demo/corpus.txt.zst" >"$T/corpus.txt"
node - "$top" "$T" "${BENCH_PARQUET_MB:-300}" <<'JS'
const [top, dir, mb] = process.argv.slice(2);
const { DuckDBInstance } = require(top + '/tests/node_modules/@duckdb/node-api');
(async () => {
    const c = await (await DuckDBInstance.create(':memory:')).connect();
    await c.run(`create table lines as select unnest(string_split(content, chr(10))) as line from read_text('${dir}/corpus.txt')`);
    await c.run(`create table docs2 as select d, string_agg(text, chr(10) order by n) as text from
                 (select (n - 1) // 20 as d, n, line as text from (select row_number() over () as n, line from lines)) group by d order by d`);
    const [[bytes]] = (await c.runAndReadAll('select sum(strlen(text)) from docs2')).getRows();
    const reps = Math.max(1, Math.round(mb * 1e6 / Number(bytes)));
    await c.run(`create table big as select r, d, text from range(${reps}) t(r), docs2 order by r, d`);
    await c.run(`copy (select text from big order by r, d) to '${dir}/docs.parquet' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 1000)`);
    await c.run(`copy (select text from big order by r, d) to '${dir}/docs.jsonl' (FORMAT json)`);
})().catch((e) => { console.error(e); process.exit(1); });
JS
pq_bytes=$(wc -c <"$T/docs.parquet")
# runs a command with its stdout to $1, prints "wall-seconds cpu-seconds peak-KB" (CPU
# seconds are steadier on a shared machine)
timed() {
    local o=$1
    shift
    /usr/bin/time -v -o "$T/time" "$@" >"$o"
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i] }
                /User time|System time/ { cpu += $2 } /Maximum resident/ { kb = $2 }
                END { printf "%.2f %.2f %d\n", s, cpu, kb }' "$T/time"
}
read -r rd_s rd_c rd_kb < <(timed "$T/dump" "$dump" "$T/docs.parquet")
text=$(awk -F: 'BEGIN { s = 0 } /^[0-9]+:/ { s += $1 } END { print s }' "$T/dump")
read -r pq_s pq_c pq_kb < <(timed "$T/pq.tok" "$BIN/gpt2-tokenize" --parquet "$T/docs.parquet")
read -r js_s js_c js_kb < <(timed "$T/js.tok" "$BIN/gpt2-tokenize" --jsonl "$T/docs.jsonl")
cmp -s "$T/pq.tok" "$T/js.tok" || { echo "parquet bench: --parquet and --jsonl ids differ" >&2; exit 1; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b ? a / b : 0 }'; }
mbs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? a / b / 1e6 : 0 }'; } # MB/s
printf 'input: %.1f MB of text in %d documents; %.1f MB snappy Parquet, %.1f MB JSONL; %d cores\n' \
    "$(div "$text" 1e6)" "$(grep -c '^[0-9]*:' "$T/dump")" "$(div "$pq_bytes" 1e6)" \
    "$(div "$(wc -c <"$T/docs.jsonl")" 1e6)" "$(nproc)"
printf '%-36s %8s %8s %10s %10s\n' "" "wall s" "cpu s" "MB/s text" "peak MB"
printf '%-36s %8s %8s %10s %10s\n' "read Parquet alone (parquet_dump)" "$rd_s" "$rd_c" "$(mbs "$text" "$rd_s")" "$(div "$rd_kb" 1024)"
printf '%-36s %8s %8s %10s %10s\n' "gpt2-tokenize --parquet" "$pq_s" "$pq_c" "$(mbs "$text" "$pq_s")" "$(div "$pq_kb" 1024)"
printf '%-36s %8s %8s %10s %10s\n' "gpt2-tokenize --jsonl" "$js_s" "$js_c" "$(mbs "$text" "$js_s")" "$(div "$js_kb" 1024)"
pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b ? 100 * a / b : 0 }'; }
printf 'reading Parquet alone / tokenizing it: %s%% of the wall time, %s%% of the CPU time (goal < 10%%)\n' \
    "$(pct "$rd_s" "$pq_s")" "$(pct "$rd_c" "$pq_c")"
printf -- '--parquet / --jsonl: %s of the wall time, %s of the CPU time\n' "$(div "$pq_s" "$js_s")" "$(div "$pq_c" "$js_c")"
