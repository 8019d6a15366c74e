#!/usr/bin/env bash
# Parity with the real tiktoken (npm package, pinned in tests/package-lock.json): every
# Unicode code point alone and in context, and a 4 MB mixed corpus (many scripts, code,
# whitespace runs, random code points, long words, long lines). Every id must be equal.
# npm installs tiktoken on first use; without node or the package the test skips, saying
# why, and fails under GPT2_REQUIRE_REFS=1 (CI). Every gpt2-tokenize run must exit 0 itself
# (same_as): a tokenizer that fails after writing its ids does not pass.
. "$(dirname "$0")/../lib.sh"

ref=$TOP/tests/ref/tiktoken.js
. "$TOP/tests/ref/npm-oracles.sh"
npm_oracles tiktoken
[ -z "$npm_missing" ] || skip_ref "tiktoken reference: $npm_missing"

# every code point, a JSONL document each: alone, and in a line of contexts
node "$ref" codepoints "$T/cp.jsonl" "$T/cp.want"
ok "code point run is not empty ($(wc -c <"$T/cp.want") bytes)" test "$(wc -c <"$T/cp.want")" -gt 4000000
ok "gpt2-tokenize --jsonl on the code points exits 0" into "$T/cp.got" gpt2-tokenize --jsonl "$T/cp.jsonl"
cmp "$T/cp.want" "$T/cp.got" >"$T/cmp" 2>&1
ok "all 1112064 code points, alone and in context: ids equal tiktoken's" test $? -eq 0
[ -s "$T/cmp" ] && sed 's/^/# /' "$T/cmp"

node "$ref" corpus 7 4000000 "$T/mixed.txt" long
node "$ref" encode "$T/mixed.txt" "$T/mixed.want"
ok "mixed corpus has tokens" test "$(wc -c <"$T/mixed.want")" -gt 1000000
ok "4 MB mixed corpus, -j1: ids equal tiktoken's" same_as "$T/mixed.want" 'gpt2-tokenize -j1 "$T/mixed.txt"'
ok "4 MB mixed corpus, -j2 in 16 KiB chunks: ids equal tiktoken's" \
    same_as "$T/mixed.want" 'gpt2-tokenize -j2 --chunk=16Ki "$T/mixed.txt"'
ok "mixed corpus round-trips" same_as "$T/mixed.txt" 'gpt2-tokenize "$T/mixed.txt" | gpt2-tokenize -d'

done_testing
