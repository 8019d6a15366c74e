#!/usr/bin/env bash
# gpt2-sample's greedy output equals a PyTorch reference's greedy decoding (full forward
# per token, no cache) for 60 tokens, from an llm.c file and from HF safetensors, with
# and without the key/value cache, in both token stream formats.
. "$(dirname "$0")/../lib.sh"
need_python torch numpy

N=60
run "$PY" "$TOP/tests/ref/sample_greedy.py" "$T" $N
ok "PyTorch reference decodes $N tokens" exits 0
sed 's/^/# /' "$out"
ok "reference did not stop early" test "$(wc -l <"$T/expected.txt")" -eq $N

for model in model.bin model.safetensors; do
    run gpt2-sample -m "$T/$model" --tokens --format text -t 0 -n $N "$T/prompt.txt"
    ok "$model: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"
done
run gpt2-sample -m "$T/model.bin" --tokens --format text -t 0 -n $N --no-cache "$T/prompt.txt"
ok "--no-cache: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"

# bin16 (the default for a pipe) in and out
perl -ne 'print pack("v", $_)' "$T/prompt.txt" >"$T/prompt.bin"
run sh -c "gpt2-sample -m '$T/model.bin' --tokens -t 0 -n $N <'$T/prompt.bin' | od -An -v -tu2 | tr -s ' ' '\n' | sed '/^$/d'"
ok "bin16 through a pipe: the same ids" cmp -s "$out" "$T/expected.txt"
done_testing
