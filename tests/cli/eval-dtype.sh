#!/usr/bin/env bash
# HellaSwag on the CPU in bf16 (the default) against fp32, on a model trained here: a small
# GPT-2 trained on the shipped demo corpus, 2000 tasks in HellaSwag's format built from the
# corpus (the context is a sentence's first half; the right ending its second half, the
# three wrong ones the same words shuffled). The trained model must tell them apart (an
# untrained one cannot), and bf16 must agree with fp32: acc_norm within 0.5 points, the same
# prediction on at least 98% of tasks, mean ending losses within 0.02.
# Why 2000: bf16 flips the prediction of about 1% of the tasks (those whose endings' losses
# lie within its rounding), and each flip moves the accuracy up or down by one task. Over
# 400 tasks 0.5 points was 2 tasks, about one standard deviation of that walk: a model
# trained by another build (-O1 with sanitizers) landed 3 tasks apart. Over 2000 tasks it
# is 10 tasks, about three.
. "$(dirname "$0")/../lib.sh"
command -v zstd >/dev/null || skip_ref "no zstd"
command -v python3 >/dev/null || skip_ref "no python3"

zstd -dc "$TOP/data/demo/corpus.txt.zst" >"$T/corpus.txt" || exit 1
gpt2-tokenize <"$T/corpus.txt" | gpt2-shard -o "$T/demo" --val-tokens 32768 2>/dev/null || exit 1
TASKS=2000
python3 - "$T/corpus.txt" "$T/hs.jsonl" "$TASKS" <<'PY'
import json, random, sys
lines = [l.split() for l in open(sys.argv[1], encoding="utf-8") if 10 <= len(l.split()) <= 20]
rng = random.Random(7)
rng.shuffle(lines)
with open(sys.argv[2], "w") as f:
    for words in lines[:int(sys.argv[3])]:
        half = len(words) // 2
        right = words[half:]
        endings = [" ".join(right)]
        for _ in range(3):
            wrong = right[:]
            rng.shuffle(wrong)
            endings.append(" ".join(wrong))
        label = rng.randrange(4)
        endings[0], endings[label] = endings[label], endings[0]
        f.write(json.dumps({"ctx": " ".join(words[:half]), "label": label, "endings": endings}) + "\n")
PY
[ "$(wc -l <"$T/hs.jsonl")" = "$TASKS" ] || exit 1

# trained (150 steps) and untrained (GPT-2 init) models of 2 layers, 64 channels
gpt2-train -i "$T/demo_train_*.bin" -o "$T/run" -e 2:1:64 --max-seq-len 64 -b 8 -T 64 -d 512 \
    -x 150 -l 4e-3 -u 10 -n 150 --device cpu --no-progress 2>"$T/train.err" ||
    { cat "$T/train.err" >&2; exit 1; }
"$TESTBIN/helpers/sample_model" "$T/untrained.bin" 2 1 64 64 1 || exit 1

# hs MODEL DTYPE NAME: -v lines (index, pred_norm, 4 mean losses) into $T/NAME.v, the
# acc_norm into $T/NAME.acc
hs() {
    run gpt2-eval -m "$1" --hellaswag "$T/hs.jsonl" --dtype "$2" --device cpu -v
    awk -F'\t' 'NF == 13 && /^[0-9]/ {print $1, $5, $10, $11, $12, $13}' "$err" | sort -n >"$T/$3.v"
    awk -F'\t' 'NR == 2 {print $6}' "$out" >"$T/$3.acc"
}
hs "$T/run/model_00000150.bin" fp32 fp32
ok "fp32: $TASKS tasks scored" eval 'exits 0 && [ "$(wc -l <"$T/fp32.v")" = "$TASKS" ]'
hs "$T/run/model_00000150.bin" bf16 bf16
ok "bf16: $TASKS tasks scored" eval 'exits 0 && [ "$(wc -l <"$T/bf16.v")" = "$TASKS" ]'
hs "$T/untrained.bin" fp32 untrained
# at_least A B: A and B are numbers and A >= B
at_least() {
    awk -v a="$1" -v b="$2" 'BEGIN {n = "^-?[0-9]+([.][0-9]+)?(e-?[0-9]+)?$"
        exit !(a ~ n && b ~ n && a + 0 >= b + 0)}'
}
ok "the trained model tells the endings apart: acc_norm $(cat "$T/fp32.acc") >= 0.45" \
    at_least "$(cat "$T/fp32.acc")" 0.45
ok "an untrained one cannot: acc_norm $(cat "$T/untrained.acc") <= 0.35" \
    at_least 0.35 "$(cat "$T/untrained.acc")"
diff_pts=$(awk -v a="$(cat "$T/fp32.acc")" -v b="$(cat "$T/bf16.acc")" \
    'BEGIN {d = (a - b) * 100; print d < 0 ? -d : d}')
ok "bf16 acc_norm within 0.5 points of fp32 (fp32 $(cat "$T/fp32.acc"), bf16 $(cat "$T/bf16.acc"))" \
    at_least 0.5 "$diff_pts"
paste -d ' ' "$T/fp32.v" "$T/bf16.v" | awk '$1 != $7 {bad = 1}
    $2 == $8 {same++}
    {for (i = 3; i <= 6; i++) {d = $i - $(i + 6); if (d < 0) d = -d; if (d > worst) worst = d}}
    END {print (bad ? -1 : same), worst + 0}' >"$T/cmp"
read -r same worst <"$T/cmp"
ok "bf16 predicts as fp32 on >= 98% of tasks ($same of $TASKS)" at_least "$same" $((TASKS * 98 / 100))
ok "bf16 mean ending losses within 0.02 of fp32 (worst $worst)" at_least 0.02 "$worst"
done_testing
