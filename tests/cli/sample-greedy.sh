#!/usr/bin/env bash
# gpt2-sample's greedy output equals a PyTorch reference's greedy decoding (full forward
# per token, no cache) for 60 tokens, from an llm.c file and from HF safetensors, with
# and without the key/value cache, in both token stream formats: in fp32, and in bf16 (the
# default) on each kernel path this CPU and build have (GPT2_BF16_PATH forces one).
# The reference's smallest top-1/top-2 gap is 0.017, above bf16's logit error here.
. "$(dirname "$0")/../lib.sh"
need_python torch numpy

N=60
run "$PY" "$TOP/tests/ref/sample_greedy.py" "$T" $N
ok "PyTorch reference decodes $N tokens" exits 0
sed 's/^/# /' "$out"
ok "reference did not stop early" test "$(wc -l <"$T/expected.txt")" -eq $N

for dtype in fp32 bf16; do
    for model in model.bin model.safetensors; do
        run gpt2-sample -m "$T/$model" --dtype $dtype --tokens --format text -t 0 -n $N "$T/prompt.txt"
        ok "$dtype, $model: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"
    done
    run gpt2-sample -m "$T/model.bin" --dtype $dtype --tokens --format text -t 0 -n $N --no-cache "$T/prompt.txt"
    ok "$dtype, --no-cache: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"
done
# the kernel paths this CPU and build have: greedy ids equal on each, --stats names it
paths=portable best=portable
if grep -qw avx512_bf16 /proc/cpuinfo 2>/dev/null; then
    paths+=" avx512bf16" best=avx512bf16
    ldd "$BIN/gpt2-sample" | grep -q libdnnl && paths+=" onednn" best=onednn
fi
for path in $paths; do
    run env GPT2_BF16_PATH=$path "$BIN/gpt2-sample" -m "$T/model.bin" --stats --tokens --format text -t 0 -n $N "$T/prompt.txt"
    ok "bf16, $path kernels forced: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"
    ok "--stats names the $path kernels" stderr_has "bf16 weights, kernels $path"
done
run gpt2-sample -m "$T/model.bin" --stats --tokens --format text -t 0 -n 1 "$T/prompt.txt"
ok "--stats: kernels $best on this CPU" stderr_has "bf16 weights, kernels $best"
run env GPT2_BF16_PATH=fast "$BIN/gpt2-sample" -m "$T/model.bin" -n 1 "$T/prompt.txt"
ok "GPT2_BF16_PATH=fast: refused, named" eval 'exits 1 && stderr_has "GPT2_BF16_PATH=fast: not a path"'
run gpt2-sample -m "$T/model.bin" --dtype fp16 -n 1 "$T/prompt.txt"
ok "--dtype fp16: usage error" eval 'exits 2 && stderr_has "neither bf16 nor fp32"'

# bin16 (the default for a pipe) in and out
perl -ne 'print pack("v", $_)' "$T/prompt.txt" >"$T/prompt.bin"
run sh -c "gpt2-sample -m '$T/model.bin' --tokens -t 0 -n $N <'$T/prompt.bin' | od -An -v -tu2 | tr -s ' ' '\n' | sed '/^$/d'"
ok "bin16 through a pipe: the same ids" cmp -s "$out" "$T/expected.txt"
done_testing
