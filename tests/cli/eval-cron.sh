#!/usr/bin/env bash
# gpt2-eval run from cron: -m 'dir/model_*' --log evals.tsv evaluates each complete checkpoint
# once, even with two runs at the same time; new checkpoints alone later; temp files and
# checkpoints without their DONE marker are never read; the lock; exit statuses.
. "$(dirname "$0")/../lib.sh"
/usr/bin/python3 -c 'import numpy' 2>/dev/null || skip_all "python3 with numpy not available"

ck=$T/ckpt log=$T/evals.tsv hs=$T/hs.jsonl
mkdir -p "$ck"
# a tiny model (maxT 32, V 50257, L 1, NH 2, C 16) and gpt2-train state headers
/usr/bin/python3 - "$T/tiny.bin" "$ck" <<'PY'
import struct, sys
import numpy as np
maxT, V, Vp, L, NH, C = 32, 50257, 50304, 1, 2, 16
header = np.zeros(256, dtype="<i4")
header[:8] = [20240326, 3, maxT, V, L, NH, C, Vp]
n = Vp*C + maxT*C + L*(2*C + 3*C*C + 3*C + C*C + C + 2*C + 4*C*C + 4*C + 4*C*C + C) + 2*C
p = (0.05 * np.random.default_rng(1).standard_normal(n)).astype("<f4")
open(sys.argv[1], "wb").write(header.tobytes() + p.tobytes())
for step in (100, 200, 300):
    h = bytearray(256)
    h[0:8] = b"GPT2STAT"
    struct.pack_into("<I", h, 8, 1)
    struct.pack_into("<Q", h, 48, step)
    struct.pack_into("<Q", h, 96, step * 512)
    open(f"{sys.argv[2]}/state_{step:08d}.bin", "wb").write(bytes(h))
PY
for i in 1 2 3 4 5 6; do
    printf '{"ind": %d, "ctx": "Example %d: the man", "label": %d, "endings": ["walks.", "runs to the door.", "sits", "is asleep on the sofa."]}\n' $i $i $((i % 4))
done >"$hs"
ckpt() { # ckpt STEP: a complete gpt2-train checkpoint
    cp "$T/tiny.bin" "$ck/model_$(printf %08d "$1").bin" && : >"$ck/DONE_$(printf %08d "$1")"
}
ckpt 100
ckpt 200
cp "$T/tiny.bin" "$ck/model_00000300.bin" # its DONE marker comes later
head -c 5000 "$T/tiny.bin" >"$ck/model_00000400.bin.tmp.Ab12Cd" # a write in progress
cron() { gpt2-eval -m "$ck/model_*" --hellaswag "$hs" --log "$log" "$@"; }
lines_for() { awk -F'\t' -v p="$1" '$1 == p' "$log" | wc -l; }
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
ok "model_00000100 evaluated once" [ "$(lines_for "$ck/model_00000100.bin")" -eq 1 ]
ok "model_00000200 evaluated once" [ "$(lines_for "$ck/model_00000200.bin")" -eq 1 ]
ok "no DONE marker: model_00000300 not read" [ "$(lines_for "$ck/model_00000300.bin")" -eq 0 ]
ok "temp file ignored" eval '! grep -q "[.]tmp[.]" "$log"'
ok "step and tokens from the name and the state file" \
    [ "$(awk -F'\t' -v p="$ck/model_00000200.bin" '$1 == p {print $2, $3, $4, $8}' "$log")" = "200 102400 hellaswag 6" ]
ok "acc and acc_norm are fractions of 6, loss NA" \
    awk -F'\t' 'function frac(x) { x *= 6; return (x - int(x + 0.5))^2 < 1e-4 && x >= 0 && x <= 6 }
        NR > 1 && !(frac($5) && frac($6) && $7 == "NA") {bad = 1} END {exit bad}' "$log"
cp "$log" "$T/before.tsv"

run cron
ok "nothing new: exit 0, log unchanged" eval 'exits 0 && cmp -s "$log" "$T/before.tsv"'
: >"$ck/DONE_00000300"
run cron
ok "new checkpoint: exit 0" exits 0
ok "only the new checkpoint appended" \
    eval '[ "$(diff "$T/before.tsv" "$log" | grep -c "^>")" -eq 1 ] && [ "$(lines_for "$ck/model_00000300.bin")" -eq 1 ]'
ok "earlier lines untouched" cmp -s "$T/before.tsv" <(head -n 3 "$log")

cp "$log" "$T/before.tsv"
run cron --val "$T/val.bin" -w 2 -T 16
ok "--val with a missing shard: exit 1" eval 'exits 1 && stderr_has "val.bin"'
/usr/bin/python3 -c '
import sys, numpy as np
t = np.random.default_rng(2).integers(0, 50257, 100).astype("<u2")
h = np.zeros(256, "<i4"); h[:3] = [20240520, 1, len(t)]
open(sys.argv[1], "wb").write(h.tobytes() + t.tobytes())' "$T/val.bin"
run cron --val "$T/val.bin" -w 2 -T 16
ok "a second task: one val line per checkpoint, hellaswag not redone" \
    eval 'exits 0 && [ "$(task_lines val)" -eq 3 ] && [ "$(task_lines hellaswag)" -eq 3 ]'

# the lock: held by another process, --no-wait leaves at once; without it, a run waits
cp "$T/tiny.bin" "$ck/model_00000500.bin" && : >"$ck/DONE_00000500"
cp "$log" "$T/before.tsv"
flock "$log" sleep 2 &
holder=$!
sleep 0.3
run cron --no-wait
ok "--no-wait while locked: exit 0, log unchanged" eval 'exits 0 && cmp -s "$log" "$T/before.tsv"'
t0=$(date +%s.%N)
run cron
t1=$(date +%s.%N)
wait $holder
ok "waiting run: exit 0 after the lock is released" \
    eval 'exits 0 && [ "$(lines_for "$ck/model_00000500.bin")" -eq 1 ] && awk "BEGIN {exit !($t1 - $t0 > 1)}"'

printf 'garbage' >"$ck/model_00000600.bin" && : >"$ck/DONE_00000600"
cp "$T/tiny.bin" "$ck/model_00000700.bin" && : >"$ck/DONE_00000700"
run cron
ok "a bad checkpoint: exit 1 naming it" eval 'exits 1 && stderr_has "model_00000600.bin"'
ok "a bad checkpoint is not logged, the others are" \
    eval '[ "$(lines_for "$ck/model_00000600.bin")" -eq 0 ] && [ "$(lines_for "$ck/model_00000700.bin")" -eq 1 ]'
rm "$ck/model_00000600.bin"

run gpt2-eval -m "$ck/nothing_*.bin" --hellaswag "$hs" --log "$log"
ok "a pattern matching nothing is not an error" exits 0
printf 'my notes\n' >"$T/notes.txt"
run gpt2-eval -m "$ck/model_*" --hellaswag "$hs" --log "$T/notes.txt"
ok "a log without the header is refused" eval 'exits 1 && stderr_has "not a gpt2-eval log"'
done_testing
