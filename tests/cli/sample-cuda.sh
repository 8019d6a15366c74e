#!/usr/bin/env bash
# gpt2-sample --device cuda (the CUDA backend's forward, recomputed per token): greedy ids
# equal the PyTorch reference's, as on the CPU (tests/cli/sample-greedy.sh).
. "$(dirname "$0")/../lib.sh"
"$TESTBIN/helpers/sample_model" "$T/probe.bin" 1 1 64 16 || exit 1
run gpt2-sample -m "$T/probe.bin" -p hi -n 1 --device cuda
[ "$rc" -eq 0 ] || skip_all "no CUDA device"
need_python torch numpy

N=60
run "$PY" "$TOP/tests/ref/sample_greedy.py" "$T" $N
ok "PyTorch reference decodes $N tokens" exits 0
for model in model.bin model.safetensors; do
    run gpt2-sample -m "$T/$model" --device cuda --tokens --format text -t 0 -n $N "$T/prompt.txt"
    ok "$model on CUDA: greedy ids equal the reference" cmp -s "$out" "$T/expected.txt"
done
done_testing
