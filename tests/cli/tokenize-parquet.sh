#!/usr/bin/env bash
# gpt2-tokenize --parquet and the Parquet reader (common/text/parquet.c) against two
# independent readers, DuckDB and hyparquet (npm, pinned in tests/package-lock.json): the
# fixtures cover every codec (snappy, zstd, gzip, none), data pages v1 and v2, PLAIN,
# dictionary, a dictionary chunk that falls back to PLAIN, DELTA_LENGTH_BYTE_ARRAY and
# DELTA_BYTE_ARRAY, nulls alone and in runs, empty strings, multi-megabyte strings, many row
# groups, non-ASCII text and a dictionary whose only entry is the empty string. The strings must equal both oracles', and --parquet must equal --jsonl on
# the same documents. Then files that lie, one error class each.
. "$(dirname "$0")/../lib.sh"

dump=$TESTBIN/helpers/parquet_dump
oracle=$TOP/tests/ref/parquet_oracle.js
. "$TOP/tests/ref/npm-oracles.sh"
npm_oracles @duckdb/node-api hyparquet hyparquet-compressors hyparquet-writer
[ -z "$npm_missing" ] || skip_ref "Parquet oracles: $npm_missing"

F=$T/fx
mkdir -p "$F"
node "$oracle" fixtures "$F" || { ok "oracle writes the fixtures" false; done_testing; exit; }
n=0
for p in "$F"/*.parquet; do
    f=${p%.parquet}
    name=${f##*/}
    n=$((n + 1))
    run "$dump" "$p"
    ok "$name: reads" exits 0
    ok "$name: strings equal DuckDB's" cmp -s "$out" "$f.duckdb"
    ok "$name: strings equal hyparquet's" cmp -s "$out" "$f.hyparquet"
    into "$T/want" gpt2-tokenize --jsonl "$f.jsonl"
    ok "$name: --parquet equals --jsonl" same_as "$T/want" 'gpt2-tokenize --parquet "$p"'
done
ok "every case was written ($n files)" test "$n" -eq 27
grep -q '^nulls [1-9]' "$F/duck-snappy-v1.duckdb" && grep -q '^0:$' "$F/duck-snappy-v1.duckdb"
ok "fixtures hold nulls and empty strings" test $? -eq 0
ok "fixtures hold a 3 MiB string" grep -q "^3145728:" "$F/duck-big.duckdb"
run gpt2-tokenize --parquet --info "$F/duck-snappy-v1.parquet"
ok "the mixed fixture has many row groups" grep -q '^row groups: 10$' "$out"

# every -j and chunk size: the same ids; several files in order
cat "$F/duck-zstd-v2.jsonl" "$F/craft-fallback.jsonl" "$F/hyp-DELTA_BYTE_ARRAY-GZIP.jsonl" >"$T/all.jsonl"
ok "--jsonl of the three files' documents" into "$T/want" gpt2-tokenize --jsonl "$T/all.jsonl"
for j in "-j1" "-j2 --chunk 64" "-j3 --chunk 1Ki" "-j4"; do
    # shellcheck disable=SC2086 # j is two words
    run gpt2-tokenize $j --parquet "$F/duck-zstd-v2.parquet" "$F/craft-fallback.parquet" \
        "$F/hyp-DELTA_BYTE_ARRAY-GZIP.parquet"
    ok "three files, $j: equal --jsonl of the same documents" eval 'exits 0 && test -s "$out" && cmp -s "$out" "$T/want"'
done
ok "nulls are counted" stderr_has "skipped [0-9]* null values"
run gpt2-tokenize --parquet -o "$T/o.tok" <"$F/craft-fallback.parquet"
ok "- reads a Parquet file on stdin" eval 'exits 0 && same_as "$T/o.tok" "gpt2-tokenize --jsonl \"\$F/craft-fallback.jsonl\""'

# --field, --info
run gpt2-tokenize --parquet --field id -f text "$F/duck-required.parquet"
ok "--field picks another column" test "$(grep -o 50256 "$out" | wc -l)" -eq 3000
run gpt2-tokenize --parquet --field nope "$F/duck-required.parquet"
ok "--field of a missing column: exit 1, named" eval 'exits 1 && stderr_has "no column \"nope\""'
run gpt2-tokenize --info "$F/duck-dict-v2.parquet" "$F/hyp-DELTA_BYTE_ARRAY-GZIP.parquet"
ok "--info: schema, codecs, encodings of each file" eval 'exits 0 && grep -q "text BYTE_ARRAY OPTIONAL string codec ZSTD encoding RLE_DICTIONARY" "$out" && grep -q "codec GZIP encoding DELTA_BYTE_ARRAY" "$out" && grep -q "^rows: 6000" "$out"'
run gpt2-tokenize --jsonl --info x.parquet
ok "--info with --jsonl: usage" exits 2
run gpt2-tokenize --parquet --jsonl x
ok "--parquet with --jsonl: usage" exits 2

# files that lie: made by the oracle script (one lie each) and here (magic, footer)
node "$oracle" bad "$T/bad"
for p in "$T"/bad/*.parquet; do
    run gpt2-tokenize --parquet "$p"
    ok "bad ${p##*/}: exit 1, says '$(cat "${p%.parquet}.msg")'" eval 'exits 1 && stderr_has "$(cat "${p%.parquet}.msg")" && stderr_has "${p##*/}"'
done
good=$F/craft-fallback.parquet
size=$(wc -c <"$good")
bad() { # bad NAME MESSAGE: $T/b.parquet must be refused with MESSAGE
    want=$2
    run gpt2-tokenize --parquet "$T/b.parquet"
    ok "bad $1: exit 1, says '$2'" eval 'exits 1 && stderr_has "$want"'
}
printf 'PAR1PAR1' >"$T/b.parquet" && bad "8-byte file" "too short"
{ printf 'XAR1' && tail -c +5 "$good"; } >"$T/b.parquet" && bad "head magic" "no PAR1 at the start"
head -c $((size - 3)) "$good" >"$T/b.parquet" && bad "truncated" "no PAR1 at the end"
{ head -c $((size - 4)) "$good" && printf PARE; } >"$T/b.parquet" && bad "encrypted footer" "encryption is not supported"
{ head -c $((size - 8)) "$good" && printf '\377\377\0\0PAR1'; } >"$T/b.parquet" && bad "footer length" "footer length"
foot=$((size - 8 - $(od -An -tu4 -j $((size - 8)) -N4 "$good")))
{ head -c "$foot" "$good" && printf '\377\377\377' && tail -c +$((foot + 4)) "$good"; } >"$T/b.parquet" &&
    bad "footer bytes" "file metadata"
# found by make fuzz: a field id delta past i16 (it overflowed int64 before the check)
run gpt2-tokenize --parquet "$TOP/tests/fuzz/parquet/fuzz-field-id-overflow.parquet"
ok "a field id out of range: exit 1" eval 'exits 1 && stderr_has "a field id is out of range"'
mkfifo "$T/fifo"
run gpt2-tokenize --parquet "$T/fifo"
ok "a FIFO is refused, not waited on" eval 'exits 1 && stderr_has "not a regular file"'
run gpt2-tokenize --parquet "$T/none.parquet"
ok "a missing file: exit 1" exits 1
done_testing
