#!/usr/bin/env bash
# gpt2-eval from cron while gpt2-train -k prunes: checkpoints that go away between the
# run's listing and its reading them (wholly, or only their marker and state so far) are
# skipped quietly, exit 0, and nothing is logged for them; the next run scores the rest.
. "$(dirname "$0")/../lib.sh"

# a tiny corpus through the real pipe: text | gpt2-tokenize | gpt2-shard
for i in $(seq 300); do echo "The cat $i sat on the mat, and the dog ran by the barn."; done |
    gpt2-tokenize | gpt2-shard -o "$T/d/s" --val-tokens 512 2>/dev/null
ck="$T/run dir" log=$T/evals.tsv
train() {
    gpt2-train -i "$T/d/s_train_*.bin" -o "$ck" -e 1:2:16 --max-seq-len 16 -t 16 -b 2 -d 32 \
        -u 1 -n 1 --device cpu --threads 1 --no-progress "$@" 2>"$T/train.err"
}
can_see_syscalls || skip_all "no /proc/PID/syscall on $(uname -m) to see a process wait"
train -x 3
ok "gpt2-train wrote checkpoints 1, 2 and 3" eval '[ -e "$ck/DONE_00000003" ] && [ -e "$ck/DONE_00000001" ]'
hs='{"ind": 7, "ctx": "The cat sat on", "label": 1, "endings": ["the dog.", "the mat.", "a barn.", "it."]}'

# The HellaSwag file comes through a FIFO that stays empty until the run has listed the
# checkpoints and waits for it: the run's read(2) on standard input shows in /proc.
mkfifo "$T/fifo"
gpt2-eval -m "$ck/model_*.bin" --hellaswag - --log "$log" --device cpu -v <"$T/fifo" \
    >"$T/e.out" 2>"$T/e.err" &
pid=$!
exec 3>"$T/fifo"
ok "the run listed the checkpoints and waits for HellaSwag" wait_for blocked_in $pid read 0
# meanwhile gpt2-train goes on with -k 2: checkpoint 4 comes, 1 and 2 go wholly; then 3 is
# caught mid-pruning (marker and state gone, model not yet)
train -x 4 -k 2 --resume
rm "$ck/DONE_00000003" "$ck/state_00000003.bin"
ok "checkpoints 1 and 2 pruned, 3 half" eval '! [ -e "$ck/model_00000002.bin" ] && [ -e "$ck/model_00000003.bin" ]'
echo "$hs" >&3
exec 3>&-
rc=0
wait $pid || rc=$?
ok "checkpoints gone since the listing: exit 0" [ $rc -eq 0 ]
ok "... with no error (-v says each was skipped)" \
    eval '! grep -v "removed since it was listed; skipped" "$T/e.err" && [ "$(grep -c skipped "$T/e.err")" -eq 3 ]'
ok "... and nothing logged for them" [ "$(wc -l <"$log")" -eq 1 ]
run gpt2-eval -m "$ck/model_*.bin" --hellaswag <(echo "$hs") --log "$log" --device cpu
ok "the next run scores the complete checkpoint 4 alone, with its step and tokens" \
    eval 'exits 0 && ! [ -s "$err" ] && [ "$(cut -f1-4 "$log" | tail -n +2)" = "$ck/model_00000004.bin	4	128	hellaswag" ]'
done_testing
