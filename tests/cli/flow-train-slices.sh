#!/usr/bin/env bash
# A schedule run in slices (--stop-at, then --resume), as a cron job or a batch queue runs
# it: a slice run again once done says there is nothing to train and leaves the run as it
# is (as past -x), unless the evaluation due at that step was cut short; the slices end
# where a straight run ends, and gpt2-eval scores both alike.
. "$(dirname "$0")/../lib.sh"

for i in $(seq 200); do echo "The cat $i sat on the mat, and the dog ran by the barn."; done |
    gpt2-tokenize | gpt2-shard -o "$T/d/s" --val-tokens 512 2>/dev/null
train() {
    gpt2-train -i "$T/d/s_train_*.bin" -j "$T/d/s_val_*.bin" -e 1:2:16 --max-seq-len 16 -t 16 \
        -b 2 -d 32 -x 6 -u 1 -n 2 -v 2 -m 2 --device cpu --threads 1 --no-progress "$@"
}
train -o "$T/straight" 2>/dev/null
train -o "$T/sl" --stop-at 2 2>/dev/null
train -o "$T/sl" --stop-at 4 --resume 2>/dev/null
cp "$T/sl/log.jsonl" "$T/log.before"
run train -o "$T/sl" --stop-at 4 --resume
ok "the slice again: exit 0, says there is nothing to train" \
    eval 'exits 0 && stderr_has "at step 4, --stop-at 4 reached: nothing to train"'
ok "... and leaves the log as it was" cmp -s "$T/log.before" "$T/sl/log.jsonl"
run train -o "$T/sl" --stop-at 3 --resume
ok "an earlier slice: the same" eval 'exits 0 && stderr_has "at step 4, --stop-at 3 reached" && cmp -s "$T/log.before" "$T/sl/log.jsonl"'
# a stop during the evaluation at step 4 leaves no validation line for it
grep -v '"type":"val","step":4,' "$T/log.before" >"$T/sl/log.jsonl"
run train -o "$T/sl" --stop-at 4 --resume
ok "the slice again after its evaluation was cut short: that evaluation runs" \
    eval 'exits 0 && ! stderr_has "nothing to train" && [ "$(grep -c "\"type\":\"val\",\"step\":4," "$T/sl/log.jsonl")" -eq 1 ]'
train -o "$T/sl" --resume 2>/dev/null
ok "the slices end with the straight run's model" cmp "$T/straight/model_00000006.bin" "$T/sl/model_00000006.bin"
for d in straight sl; do
    ok "gpt2-eval scores the $d run" into "$T/$d.all" gpt2-eval -m "$T/$d/model_*.bin" --val "$T/d/s_val_*.bin" -w 4 --device cpu
    cut -f2,3,7 "$T/$d.all" >"$T/$d.tsv"
done
ok "gpt2-eval scores both runs' checkpoints alike" \
    eval '[ "$(wc -l <"$T/sl.tsv")" -eq 4 ] && cmp -s "$T/straight.tsv" "$T/sl.tsv"'
done_testing
