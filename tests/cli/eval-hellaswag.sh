#!/usr/bin/env bash
# gpt2-eval against the PyTorch reference scoring (tests/ref/check_eval.py: every
# per-ending loss, prediction, acc, acc_norm, validation loss), then its command line.
. "$(dirname "$0")/../lib.sh"
need_python torch numpy
[ -f "$TOP/tests/ref/gpt2_ref.py" ] || skip_ref "tests/ref/gpt2_ref.py (the model reference) missing"

# the reference prints its own TAP lines; they are renumbered into this test's
PYTHONPATH=$TOP/tests/ref OMP_NUM_THREADS=2 "$PY" "$TOP/tests/ref/check_eval.py" "$BIN" "$T" >"$T/ref.tap" 2>"$T/ref.err"
ref_rc=$?
while IFS= read -r line; do
    case $line in
    "ok "*) ok "ref: ${line#ok * - }" true ;;
    "not ok "*) ok "ref: ${line#not ok * - }" false ;;
    "#"*) echo "$line" ;;
    esac
done <"$T/ref.tap"
ok "reference script exits 0" [ "$ref_rc" -eq 0 ]
[ "$ref_rc" -eq 0 ] || sed 's/^/# /' "$T/ref.err" | tail -n 5
model=$T/tiny.bin hs=$T/hs.jsonl

run gpt2-eval -m "$model" --hellaswag "$hs" --limit 2 --device cpu
ok "--limit 2: exit 0" exits 0
ok "--limit 2: 2 examples" [ "$(awk -F'\t' 'NR==2 {print $4, $8}' "$out")" = "hellaswag 2" ]
ok "no output on stderr without --verbose" [ ! -s "$err" ]
run gpt2-eval -m "$model" --hellaswag - --limit 1 <"$hs"
ok "HellaSwag from stdin" [ "$(awk -F'\t' 'NR==2 {print $8}' "$out")" = 1 ]
run gpt2-eval --help
ok "--help: exit 0, usage on stdout" eval 'exits 0 && grep -q "^Usage: gpt2-eval" "$out"'
run gpt2-eval --version
ok "--version" eval 'exits 0 && grep -q "^gpt2-eval (gpt2) " "$out"'
run gpt2-eval --hellaswag "$hs"
ok "no model: usage error" eval 'exits 2 && stderr_has "no model"'
run gpt2-eval -m "$model"
ok "no task: usage error" eval 'exits 2 && stderr_has "nothing to evaluate"'
run gpt2-eval -m "$model" --hellaswag "$hs" --device tpu
ok "bad device: usage error" exits 2
run gpt2-eval -m "$model" --hellaswag "$hs" --limit 0
ok "--limit 0: usage error" exits 2
printf '{"ctx": "a", "label": 0, "endings": ["a", "b"]}\n' >"$T/bad.jsonl"
run gpt2-eval -m "$model" --hellaswag "$T/bad.jsonl"
ok "malformed record: exit 1 naming file and line" eval 'exits 1 && stderr_has "bad.jsonl:1: \"endings\""'
run gpt2-eval -m "$T/missing.bin" --hellaswag "$hs"
ok "missing model: exit 1" eval 'exits 1 && stderr_has "missing.bin: no such file"'
head -c 2000 "$model" >"$T/trunc.bin"
run gpt2-eval -m "$T/trunc.bin" --hellaswag "$hs"
ok "truncated model: exit 1, no result line" eval 'exits 1 && [ "$(wc -l <"$out")" -eq 1 ]'
run gpt2-eval -m "$model" --val "$T/val_000000.bin" -T 128
ok "val windows longer than the model: exit 1" eval 'exits 1 && stderr_has "seq-len"'
"$PY" -c '
import sys, numpy as np
for name, toks in (("short", [1, 2, 3]), ("badid", [1, 2, 60000, 4] * 20)):
    t = np.array(toks, "<u2"); h = np.zeros(256, "<i4"); h[:3] = [20240520, 1, len(t)]
    open(sys.argv[1] + "/" + name + ".bin", "wb").write(h.tobytes() + t.tobytes())' "$T"
run gpt2-eval -m "$model" --val "$T/short.bin" -T 8
ok "val shard shorter than a window: exit 1" eval 'exits 1 && stderr_has "no shard holds 9 tokens"'
run gpt2-eval -m "$model" --val "$T/badid.bin" -T 8
ok "val token outside the vocabulary: exit 1" eval 'exits 1 && stderr_has "hold token 60000 (.*badid.bin, token 2), outside"'
run gpt2-eval -m "$model" --hellaswag "$hs" --limit 1 --device cuda
if exits 0; then
    ok "--device cuda runs (a GPU is present)" grep -q hellaswag "$out"
else
    ok "--device cuda without a usable GPU: exit 1 with a reason" eval 'exits 1 && [ -s "$err" ]'
fi
# the tiny model's heads are of size 8: a GPU, if there is one, refuses it
if grep -q "head size 64" "$err"; then
    run gpt2-eval -m "$model" --hellaswag "$hs" --limit 1
    ok "--device auto, a GPU that cannot run the model: the CPU, with a one-line note" \
        eval 'exits 0 && stderr_has "using the CPU" && [ "$(wc -l <"$err")" -eq 1 ]'
else
    run gpt2-eval -m "$model" --hellaswag "$hs" --limit 1
    ok "--device auto without a usable GPU: the CPU, silently" eval 'exits 0 && [ ! -s "$err" ]'
fi
done_testing
