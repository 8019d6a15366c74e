#!/usr/bin/env bash
# gpt2-eval run from cron over a real gpt2-train output directory: -m 'out/model_*'
# --log evals.tsv evaluates each complete checkpoint once, even with two runs at the same
# time; later only new checkpoints; temp files and checkpoints without their DONE marker
# are never read; step and tokens from the train state; the validation loss equals the one
# gpt2-train logged; the lock; exit statuses.
. "$(dirname "$0")/../lib.sh"
need_python numpy

ck=$T/out log=$T/evals.tsv hs=$T/hs.jsonl
"$PY" -c '
import sys, numpy as np
for name, n, seed in (("/tr_train_000001.bin", 3000, 1), ("/tr_val_000000.bin", 600, 2)):
    t = np.random.default_rng(seed).integers(0, 50257, n).astype("<u2")
    h = np.zeros(256, "<i4"); h[:3] = [20240520, 1, n]
    open(sys.argv[1] + name, "wb").write(h.tobytes() + t.tobytes())' "$T"
for i in 1 2 3 4 5 6; do
    printf '{"ind": %d, "ctx": "Example %d: the man", "label": %d, "endings": ["walks.", "runs to the door.", "sits", "is asleep on the sofa."]}\n' $i $i $((i % 4))
done >"$hs"
# 1 layer, 2 heads, 16 channels; B=2, T=16, 32 tokens a step; checkpoints every 2 steps;
# validation on 3 batches of 2 windows = the first 6 windows of T=16
train() {
    gpt2-train -i "$T/tr_train_*.bin" -j "$T/tr_val_*.bin" -o "$ck" -e 1:2:16 --max-seq-len 32 \
        -t 16 -b 2 -d 32 -x 6 -n 2 -v 2 -m 3 -u 1 --device cpu --no-progress "$@" >/dev/null 2>"$T/train.err"
}
train --stop-at 4
ok "gpt2-train wrote checkpoints 2 and 4" [ -e "$ck/DONE_00000004" ]
cp "$ck/model_00000004.bin" "$ck/model_00000098.bin" # its DONE marker comes later
head -c 5000 "$ck/model_00000004.bin" >"$ck/model_00000099.bin.tmp.Ab12Cd" # a write in progress
cron_cmd=(gpt2-eval -m "$ck/model_*" --hellaswag "$hs" --val "$T/tr_val_*.bin" -T 16 -w 6 --log "$log" --device cpu)
cron() { "${cron_cmd[@]}" "$@"; }
lines_for() { awk -F'\t' -v p="$ck/$1" '$1 == p' "$log" | wc -l; }
task_lines() { awk -F'\t' -v t="$1" '$4 == t' "$log" | wc -l; }

cron >"$T/a.out" 2>"$T/a.err" &
pa=$!
cron >"$T/b.out" 2>"$T/b.err" &
pb=$!
wait $pa
ra=$?
wait $pb
rb=$?
ok "two runs at once both exit 0" eval '[ $ra -eq 0 ] && [ $rb -eq 0 ]'
ok "no output from a cron run" eval '! [ -s "$T/a.out" ] && ! [ -s "$T/b.out" ] && ! [ -s "$T/a.err" ] && ! [ -s "$T/b.err" ]'
ok "header once" [ "$(grep -c '^checkpoint' "$log")" -eq 1 ]
ok "model_00000002: each task once" [ "$(lines_for model_00000002.bin)" -eq 2 ]
ok "model_00000004: each task once" [ "$(lines_for model_00000004.bin)" -eq 2 ]
ok "no DONE marker: model_00000098 not read" [ "$(lines_for model_00000098.bin)" -eq 0 ]
ok "temp file ignored" eval '! grep -q "[.]tmp[.]" "$log"'
ok "step and tokens from the name and gpt2-train's state file" \
    [ "$(awk -F'\t' '{print $2, $3, $4, $8}' "$log" | sort | tr '\n' ,)" = "2 64 hellaswag 6,2 64 val 6,4 128 hellaswag 6,4 128 val 6,step tokens task examples," ]
ok "acc and acc_norm are fractions of 6, loss NA" \
    awk -F'\t' 'function frac(x) { x *= 6; return (x - int(x + 0.5))^2 < 1e-4 && x >= 0 && x <= 6 }
        NR > 1 && $4 == "hellaswag" && !(frac($5) && frac($6) && $7 == "NA") {bad = 1} END {exit bad}' "$log"
# gpt2-train's log: {"type":"val","step":4,"loss":10.8355411,...}
ok "validation loss equals gpt2-train's at steps 2 and 4" \
    awk -F'\t' 'NR == FNR { if (match($0, /"type":"val","step":[0-9]+,"loss":[0-9.]+/)) {
            split(substr($0, RSTART, RLENGTH), f, /[:,]/); want[f[4]] = f[6] } next }
        $4 == "val" { n++; d = $7 - want[$2]; if (!($2 in want) || d * d > 1e-10) bad = 1 }
        END {exit bad || n != 2}' "$ck/log.jsonl" "$log"
cp "$log" "$T/before.tsv"

run cron
ok "nothing new: exit 0, log unchanged" eval 'exits 0 && cmp -s "$log" "$T/before.tsv"'
train --resume
ok "gpt2-train resumed and wrote checkpoint 6" [ -e "$ck/DONE_00000006" ]
run cron
ok "new checkpoint: exit 0" exits 0
ok "only the new checkpoint appended" \
    eval '[ "$(diff "$T/before.tsv" "$log" | grep -c "^>")" -eq 2 ] && [ "$(lines_for model_00000006.bin)" -eq 2 ]'
ok "earlier lines untouched" cmp -s "$T/before.tsv" <(head -n 5 "$log")

# the lock: held by another process, --no-wait leaves at once; without it, a run waits,
# seen blocked in flock(2) until the holder lets go (then the holder's own work, done
# while the run waited, must be in what the run scores)
hold_lock() { # hold_lock CMD: holds the log's lock, runs CMD once T/release exists
    flock "$log" sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; eval "$2"' _ "$T/release" "$1" &
    holder=$!
    wait_for locked "$log"
}
let_go() { touch "$T/release" && wait $holder && rm "$T/release"; }
cron_waits() { # cron_waits: starts a run in the background, until it waits on the lock
    (exec "${cron_cmd[@]}") >"$T/w.out" 2>"$T/w.err" &
    waiter=$!
    wait_for blocked_in $waiter flock
}
waiter_status() { local s=0; wait $waiter || s=$?; [ $s -eq 0 ] && ! [ -s "$T/w.err" ]; }
: >"$ck/DONE_00000098"
cp "$log" "$T/before.tsv"
hold_lock :
run cron --no-wait
ok "--no-wait while locked: exit 0, log unchanged" eval 'exits 0 && cmp -s "$log" "$T/before.tsv"'
if can_see_syscalls; then
    ok "without --no-wait, a run waits in flock(2)" cron_waits
    ok "... and has not written the log meanwhile" cmp -s "$log" "$T/before.tsv"
    let_go
    ok "waiting run: exit 0 after the lock is released, marker now there" \
        eval 'waiter_status && [ "$(lines_for model_00000098.bin)" -eq 2 ]'
    # a checkpoint completed while a run waits for the lock is scored by that run
    hold_lock "cp '$ck/model_00000004.bin' '$ck/model_00000104.bin' && : >'$ck/DONE_00000104'"
    ok "a second run waits in flock(2)" cron_waits
    let_go
    ok "waiting run: checkpoints that came during the wait are scored too" \
        eval 'waiter_status && [ "$(lines_for model_00000104.bin)" -eq 2 ]'
else
    let_go
    ok "a run waiting on the lock # SKIP no /proc/PID/syscall on $(uname -m)" true
    run cron # scores 98 for the checks below
fi

printf 'garbage' >"$ck/model_00000100.bin" && : >"$ck/DONE_00000100"
cp "$ck/model_00000004.bin" "$ck/model_00000102.bin" && : >"$ck/DONE_00000102"
run cron
ok "a bad checkpoint: exit 1 naming it" eval 'exits 1 && stderr_has "model_00000100.bin"'
ok "a bad checkpoint is not logged, the others are" \
    eval '[ "$(lines_for model_00000100.bin)" -eq 0 ] && [ "$(lines_for model_00000102.bin)" -eq 2 ]'
rm "$ck/model_00000100.bin"

# a logged HellaSwag line stands for runs asking for no more examples than it scored
small=$T/small.tsv m2=$ck/model_00000002.bin
ex() { awk -F'\t' -v t="$1" '$4 == t {printf "%s ", $8}' "$small"; }
gpt2-eval -m "$m2" --hellaswag "$hs" --limit 3 --val "$T/tr_val_*.bin" -T 16 -w 2 --log "$small" --device cpu
gpt2-eval -m "$m2" --hellaswag "$hs" --val "$T/tr_val_*.bin" -T 16 -w 6 --log "$small" --device cpu
ok "--limit 3 then the whole file: evaluated again" [ "$(ex hellaswag)" = "3 6 " ]
ok "validation logged with -w 2: done for -w 6 too" [ "$(ex val)" = "2 " ]
gpt2-eval -m "$m2" --hellaswag "$hs" --limit 4 --log "$small" --device cpu
ok "fewer than logged: nothing new" [ "$(ex hellaswag)" = "3 6 " ]

run gpt2-eval -m "$ck/nothing_*.bin" --hellaswag "$hs" --log "$log"
ok "a pattern matching nothing is not an error" eval 'exits 0 && ! [ -s "$out" ]'
run gpt2-eval -m "$T/run9/model_*.bin" --hellaswag "$hs" --log "$T/run9/evals.tsv"
ok "before the run's directory exists: nothing to do, exit 0, no log made" \
    eval 'exits 0 && ! [ -s "$out" ] && ! [ -e "$T/run9" ]'
run gpt2-eval -m "$ck/model_*" --hellaswag "$hs" --val "$T/missing_*.bin" --log "$T/new.tsv"
ok "a missing validation shard: exit 1" eval 'exits 1 && stderr_has "missing_"'
printf 'my notes\n' >"$T/notes.txt"
run gpt2-eval -m "$ck/model_*" --hellaswag "$hs" --log "$T/notes.txt"
ok "a log without the header is refused" eval 'exits 1 && stderr_has "not a gpt2-eval log"'

# a new run written where an evaluated one was: other models at the same paths, told
# apart by the checksum in their headers (gpt2-checkpoint(5) word 10)
crc_of() { od -An -tx4 -j40 -N4 "$1" | tr -d ' '; }
ok "the checksum column is the model file's" \
    [ "$(awk -F'\t' -v p="$ck/model_00000002.bin" '$1 == p && $4 == "val" {print $11}' "$log")" = "$(crc_of "$ck/model_00000002.bin")" ]
old_crc=$(crc_of "$ck/model_00000002.bin")
rm -rf "$ck"
train --stop-at 2 -s 7
ok "the new run's model differs" [ "$(crc_of "$ck/model_00000002.bin")" != "$old_crc" ]
run cron
ok "a new run at the old paths: evaluated again" \
    eval 'exits 0 && [ "$(lines_for model_00000002.bin)" -eq 4 ]'
run cron
ok "... and then done" eval 'exits 0 && [ "$(lines_for model_00000002.bin)" -eq 4 ]'
done_testing
