#!/usr/bin/env bash
# Parity with the real tiktoken (npm package, pinned in tests/package-lock.json): every
# Unicode code point alone and in context, and a 4 MB mixed corpus (many scripts, code,
# whitespace runs, random code points, long words, long lines). Every id must be equal.
# npm installs tiktoken on first use; without it the test fails, saying why.
. "$(dirname "$0")/../lib.sh"

ref=$TOP/tests/ref/tiktoken.js
. "$TOP/tests/ref/tiktoken-setup.sh"
if [ -n "$tiktoken_missing" ]; then
    ok "tiktoken reference available: $tiktoken_missing" false
    done_testing
    exit
fi

# every code point, a JSONL document each: alone, and in a line of contexts
node "$ref" codepoints "$T/cp.jsonl" "$T/cp.want"
gpt2-tokenize --jsonl "$T/cp.jsonl" >"$T/cp.got"
cmp "$T/cp.want" "$T/cp.got" >"$T/cmp" 2>&1
ok "all 1112064 code points, alone and in context: ids equal tiktoken's" test $? -eq 0
[ -s "$T/cmp" ] && sed 's/^/# /' "$T/cmp"
ok "code point run is not empty ($(wc -c <"$T/cp.want") bytes)" test "$(wc -c <"$T/cp.want")" -gt 4000000

node "$ref" corpus 7 4000000 "$T/mixed.txt" long
node "$ref" encode "$T/mixed.txt" "$T/mixed.want"
ok "mixed corpus has tokens" test "$(wc -c <"$T/mixed.want")" -gt 1000000
gpt2-tokenize -j1 "$T/mixed.txt" | cmp -s - "$T/mixed.want"
ok "4 MB mixed corpus, -j1: ids equal tiktoken's" test $? -eq 0
gpt2-tokenize -j2 --chunk=16Ki "$T/mixed.txt" | cmp -s - "$T/mixed.want"
ok "4 MB mixed corpus, -j2 in 16 KiB chunks: ids equal tiktoken's" test $? -eq 0
gpt2-tokenize "$T/mixed.txt" | gpt2-tokenize -d | cmp -s - "$T/mixed.txt"
ok "mixed corpus round-trips" test $? -eq 0

done_testing
