#!/usr/bin/env bash
# gpt2-train: usage and input errors found before any work, the JSONL log, checkpoint
# sets, and exact resume (N steps straight == N/2 + --resume, bit for bit, one thread;
# also after a stop signal, mid-step or mid-evaluation).
. "$(dirname "$0")/../lib.sh"

# llm.c shards (256 x int32 header: 20240520, 1, count; then uint16 tokens) of byte
# tokens from a small made-up text
python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
words = "the cat sat on a mat while a dog ran by the old red barn and slept".split()
x, text = 12345, []
for i in range(6000):
    x = (x * 1103515245 + 12345) % 2**31
    text.append(words[x % len(words)])
toks = list(" ".join(text).encode())
def shard(name, t):
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253))
        f.write(struct.pack(f"<{len(t)}H", *t))
shard("d_val_000000.bin", toks[:3000])
for i, at in enumerate(range(3000, len(toks), 9000)):
    shard(f"d_train_{i + 1:06d}.bin", toks[at:at + 9000])
shard("short_train.bin", toks[:8])
open(f"{d}/stream.u16", "wb").write(struct.pack(f"<{len(toks)}H", *toks))
PY
printf 'junk that is no shard' >"$T/bad_train_000001.bin"

train() { gpt2-train -i "$T/d_train_*.bin" -j "$T/d_val_*.bin" -e 2:2:32 --vocab 256 \
    --max-seq-len 32 -b 2 -t 16 -d 64 -u 3 -l 3e-3 -v 4 -m 2 --threads 1 "$@"; }
# step, loss, lr and grad norm of every train line: what must match exactly
losses() { sed -n 's/.*"type":"train","step":\([0-9]*\),"loss":\([^,]*\),"lr":\([^,]*\),"grad_norm":\([^,]*\),.*/\1 \2 \3 \4/p' "$1"; }

run gpt2-train --help
ok "--help exits 0 with usage on stdout" eval 'exits 0 && grep -q "^Usage: gpt2-train" "$out"'
run gpt2-train --version
ok "--version" eval 'exits 0 && grep -q "^gpt2-train (gpt2) " "$out"'

run gpt2-train -o "$T/o"
ok "-i is required (usage error)" eval 'exits 2 && stderr_has "-i TRAIN_GLOB"'
run train -o "$T/o" -d 100
ok "total batch not a multiple of B*T" eval 'exits 2 && stderr_has "not a multiple of B\*T"'
run train -o "$T/o" --device tpu
ok "unknown device" eval 'exits 2 && stderr_has "auto, cpu or cuda"'
run gpt2-train -i "$T/d_train_000001.bin" "$T/d_train_000002.bin" -o "$T/o"
ok "an unquoted glob gets a hint" eval 'exits 2 && stderr_has "quote glob patterns"'

run train -o "$T/o" -i "$T/none_*.bin"
ok "no matching shard" eval 'exits 1 && stderr_has "no shard matches"'
run train -o "$T/o" -i "$T/bad_train_*.bin"
ok "a corrupt shard is named" eval 'exits 1 && stderr_has "bad_train_000001.bin"'
run train -o "$T/o" -i "$T/short_train.bin"
ok "a shard shorter than one window" eval 'exits 1 && stderr_has "no shard holds"'
run train -o "$T/o" -t 64 -d 128
ok "T above the model's maximum" eval 'exits 1 && stderr_has "above the model.s maximum"'
run train -o "$T/o" -e d7
ok "an unknown config: usage error, exit 2" eval 'exits 2 && stderr_has "neither a model file nor a config"'
run train -o "$T/cu" --device cuda -x 1
ok "--device cuda: refused without a usable device, else used" eval '(exits 1 && stderr_has "device cuda" && test ! -e "$T/cu") || (exits 0 && grep -q "\"device\":\"cuda\"" "$T/cu/log.jsonl")'
run train -o "$T/o" -b 1 -t 1 -d 4Gi
ok "more micro-batches per step than an int holds" eval 'exits 2 && stderr_has "more than 2147483647 micro-batches"'
run train -o "$T/o" --resume
ok "--resume with nothing to resume" eval 'exits 1 && stderr_has "no complete checkpoint"'
ok "no output directory after an input error" test ! -e "$T/o"
run train -o "$T/v" --vocab 100
ok "a token outside the vocabulary" eval 'exits 1 && stderr_has "outside the model.s vocabulary"'
# the largest token of the text is "y" (121): a vocabulary of 121 ids lacks it, one of 122 has it
run train -o "$T/v121" --vocab 121 -x 1
ok "a token equal to the vocabulary size is outside it" eval 'exits 1 && stderr_has "token 121 .* outside the model.s vocabulary (121)"'
run train -o "$T/v122" --vocab 122 -x 1
ok "... and one below it is inside" exits 0

# N = 12 steps straight
run train -o "$T/a" -x 12 -n 6
ok "12 steps straight" exits 0
ok "checkpoints 6 and 12 are complete" eval 'for s in 06 12; do
    for f in model_000000$s.bin state_000000$s.bin DONE_000000$s; do
        test -f "$T/a/$f" || exit 1; done; done'
ok "every log line is JSON" python3 -c '
import json, sys
kinds = [json.loads(l)["type"] for l in open(sys.argv[1])]
sys.exit(not (kinds.count("train") == 12 and kinds.count("val") == 4 and kinds[0] == "start"))' \
    "$T/a/log.jsonl"
ok "validation loss falls" python3 -c '
import json, sys
v = [json.loads(l)["loss"] for l in open(sys.argv[1]) if "\"val\"" in l]
sys.exit(not v[-1] < v[0] - 0.5)' "$T/a/log.jsonl"

# the same tokens in zstd shards give the same run
gpt2-shard -z -o "$T/z" --vocab-size 256 --val-tokens 3000 -s 9000 "$T/stream.u16" 2>/dev/null
run train -o "$T/zr" -x 12 -n 6 -i "$T/z_train_*.bin.zst" -j "$T/z_val_*.bin.zst"
losses "$T/zr/log.jsonl" >"$T/zr.loss"
losses "$T/a/log.jsonl" >"$T/a.loss"
ok "zstd shards: the same losses as llm.c shards" eval 'exits 0 && test -s "$T/zr.loss" && cmp "$T/a.loss" "$T/zr.loss"'

# a zstd shard of three frames of different compressed sizes (random bytes, a run of one
# byte, a short random tail): gpt2-eval over all its windows, and gpt2-train, read the
# same tokens as from the llm.c shard of the same stream
python3 - "$T/frames.u16" <<'PY'
import random, struct, sys
r = random.Random(5)
t = [r.randrange(256) for _ in range(65536)] + [97] * 65536 + [r.randrange(256) for _ in range(9000)]
open(sys.argv[1], "wb").write(struct.pack(f"<{len(t)}H", *t))
PY
gpt2-shard -o "$T/fr/l" --vocab-size 256 --val-tokens 0 -s 1M "$T/frames.u16" 2>/dev/null
run gpt2-shard -z -o "$T/fr/z" --vocab-size 256 --val-tokens 0 -s 1M "$T/frames.u16"
run gpt2-shard --info "$T/fr/z_train_000000.bin.zst"
ok "the zstd shard has 3 frames" eval 'exits 0 && grep -q "3 frames of 65536 tokens" "$out"'
for f in l z; do
    OMP_NUM_THREADS=1 run gpt2-eval -m "$T/a/model_00000012.bin" --val "$T/fr/${f}_train_*" -T 32 -w 0 -b 256 --device cpu
    cut -f4,7,8 "$out" | tail -n +2 >"$T/fr/$f.val"
    ok "gpt2-eval --val, every window of the $f shard" eval 'exits 0 && grep -q "^val	[0-9.]*	4377$" "$T/fr/$f.val"'
done
ok "... the same validation loss from both" cmp "$T/fr/l.val" "$T/fr/z.val"
for f in l z; do
    train -i "$T/fr/${f}_train_*" -o "$T/fr/$f" -x 8 -b 8 -d 128 2>/dev/null
    losses "$T/fr/$f/log.jsonl" >"$T/fr/$f.loss"
done
ok "gpt2-train on the zstd shard: the llm.c shard's losses" \
    eval 'test "$(wc -l <"$T/fr/l.loss")" -eq 8 && cmp "$T/fr/l.loss" "$T/fr/z.loss"'

# gradient accumulation: two micro-batches of 2 rows are one batch of 4 (the same windows
# in the same order), so each step's loss, lr and gradient norm agree up to float rounding
train -o "$T/ac2" -x 3 -b 2 2>/dev/null
train -o "$T/ac1" -x 3 -b 4 2>/dev/null
losses "$T/ac2/log.jsonl" >"$T/ac2.loss"
losses "$T/ac1/log.jsonl" >"$T/ac1.loss"
ok "2 micro-batches of 2 rows: the loss and gradient norm of one batch of 4" \
    awk 'NR == FNR { a[FNR] = $0; next }
        { split(a[FNR], x); for (i = 2; i <= 4; i++) { d = x[i] - $i; if (d < 0) d = -d
          if (d > 1e-5 * ($i < 0 ? -$i : $i) + 1e-7) bad = 1 }; n++ }
        END { exit bad || n != 3 }' "$T/ac2.loss" "$T/ac1.loss"

# N/2 steps, stop, resume to N
run train -o "$T/b" -x 12 -n 6 --stop-at 6
ok "--stop-at 6 ends with checkpoint 6" eval 'exits 0 && test -f "$T/b/DONE_00000006" && test ! -e "$T/b/DONE_00000012"'
run train -o "$T/b" -x 12 -n 6
ok "a second fresh run into the same directory is refused" eval 'exits 1 && stderr_has "use --resume"'
run train -o "$T/b" -x 12 -n 6 -t 8 --resume
ok "resume with another sequence length" eval 'exits 1 && stderr_has "same sequence length"'
run train -o "$T/b" -x 12 -n 6 -e 2:2:64 --resume
ok "resume with another model config" eval 'exits 1 && stderr_has "but --init 2:2:64"'
run train -o "$T/b" -x 12 -n 6 --resume
ok "resume to 12" exits 0
losses "$T/a/log.jsonl" >"$T/a.loss"
losses "$T/b/log.jsonl" >"$T/b.loss"
ok "12 losses" test "$(wc -l <"$T/a.loss")" -eq 12
ok "resumed losses, lr and grad norms equal the straight run's bit for bit" cmp "$T/a.loss" "$T/b.loss"
ok "the final models are identical" cmp "$T/a/model_00000012.bin" "$T/b/model_00000012.bin"
ok "the final states are identical" cmp "$T/a/state_00000012.bin" "$T/b/state_00000012.bin"
ok "validation lines equal, none repeated" eval 'diff <(grep "\"val\"" "$T/a/log.jsonl") <(grep "\"val\"" "$T/b/log.jsonl")'
cp "$T/b/log.jsonl" "$T/b.log"
run train -o "$T/b" -x 10 -n 6 --resume
ok "resume past -x: exit 0, says nothing to train" eval 'exits 0 && stderr_has "step 12, -x 10 steps reached: nothing to train"'
ok "... and leaves the log as it was" cmp "$T/b.log" "$T/b/log.jsonl"

# a resume in a later epoch: one 200-token shard is 12 windows, 3 steps an epoch, so the
# stop at step 5 falls in epoch 1, with its own shuffle of the windows
head -c 400 "$T/stream.u16" | gpt2-shard -o "$T/ep/e" --vocab-size 256 --val-tokens 0 2>/dev/null
train -i "$T/ep/e_train_*.bin" -o "$T/ea" -x 9 -n 0 2>/dev/null
train -i "$T/ep/e_train_*.bin" -o "$T/eb" -x 9 -n 5 --stop-at 5 2>/dev/null
run train -i "$T/ep/e_train_*.bin" -o "$T/eb" -x 9 -n 5 --resume
losses "$T/ea/log.jsonl" >"$T/ea.loss"
losses "$T/eb/log.jsonl" >"$T/eb.loss"
ok "resumed in epoch 1 (of 3): the straight run's losses, bit for bit" \
    eval 'exits 0 && test "$(wc -l <"$T/ea.loss")" -eq 9 && cmp "$T/ea.loss" "$T/eb.loss"'

# the data order belongs to the run, as its seed does: a resume keeps both
run train -o "$T/na" -x 12 --no-shuffle
losses "$T/na/log.jsonl" >"$T/na.loss"
ok "--no-shuffle reads another order (else the checks below prove nothing)" eval '! cmp -s "$T/a.loss" "$T/na.loss"'
train -o "$T/nb" -x 12 -n 6 --no-shuffle --stop-at 6 2>/dev/null
run train -o "$T/nb" -x 12 -n 6 --resume
losses "$T/nb/log.jsonl" >"$T/nb.loss"
ok "a --no-shuffle run resumed without the option keeps file order" eval 'exits 0 && cmp "$T/na.loss" "$T/nb.loss"'
train -o "$T/sb" -x 12 -n 6 --stop-at 6 2>/dev/null
run train -o "$T/sb" -x 12 -n 6 --resume --no-shuffle -s 5
losses "$T/sb/log.jsonl" >"$T/sb.loss"
ok "a shuffled run resumed with --no-shuffle -s 5 keeps its order and seed, and says so" \
    eval 'exits 0 && stderr_has "--no-shuffle ignored" && stderr_has "-s 5 ignored" && cmp "$T/a.loss" "$T/sb.loss"'

head -c 1000 "$T/b/state_00000012.bin" >"$T/b/state_00000012.tmp" && mv "$T/b/state_00000012.bin" "$T/state.keep" &&
    mv "$T/b/state_00000012.tmp" "$T/b/state_00000012.bin"
run train -o "$T/b" -x 14 -n 6 --resume
ok "a truncated state file is refused" eval 'exits 1 && stderr_has "state_00000012.bin"'

# the holder keeps the lock until told to let go; the run starts only once the lock is
# taken (flock -n fails), however slow the machine
mkdir "$T/lk"
flock "$T/lk/.lock" sh -c 'until [ -e "$0" ]; do sleep 0.05; done' "$T/lk.done" &
holder=$!
wait_for locked "$T/lk/.lock"
run train -o "$T/lk" -x 2
ok "another run holds the output directory: exit 1, says so" \
    eval 'exits 1 && stderr_has "another gpt2-train is writing here" && test ! -e "$T/lk/log.jsonl"'
touch "$T/lk.done"
wait $holder

run train -o "$T/c" -x 4 -e "$T/a/model_00000006.bin" -n 2 -k 1
ok "init from a model file, keep 1" eval 'exits 0 && test -f "$T/c/DONE_00000004" && test ! -e "$T/c/model_00000002.bin"'
run train -o "$T/c2" -x 4 -e "$T/a/model_00000006.bin" --vocab 300
ok "a model file that disagrees with --vocab" eval 'exits 1 && stderr_has "vocabulary 256, but --vocab 300"'

run train -o "$T/pg" -x 3 --progress
ok "--progress: a step line with the time left on stderr, even off a terminal" \
    eval 'exits 0 && tr "\r" "\n" <"$err" | grep -q "step 3/3  loss .* tok/s .* ms  eta 0s$"'
run train -o "$T/pg3" -x 1 -d 640 --progress # 20 micro-batches, "long" by the test knob
ok "--progress in a long step: how many of its micro-batches are done" \
    eval 'exits 0 && tr "\r" "\n" <"$err" | grep -q "gpt2-train: step 0/1  \[step 1: 19/20 micro-batches\]$"'
run train -o "$T/pg4" -x 1000 --stop-at 3 --progress
ok "--progress with --stop-at: the time left is until the stop" \
    eval 'exits 0 && tr "\r" "\n" <"$err" | grep -q "step 3/1000  loss .* eta 0s$"'
run train -o "$T/pg2" -x 3
ok "no progress line by default off a terminal" eval 'exits 0 && ! grep -q "step [1-3]/3" "$err"'

# a diverging run: its non-finite losses are JSON nulls, not bare nan/inf
run train -o "$T/nan" -x 6 -u 1 -l 10 --grad-clip 0 -v 3
ok "diverging run: every log line is strict JSON, with nulls" eval 'exits 0 && grep -q "\"loss\":null" "$T/nan/log.jsonl" &&
    python3 -c "
import json, sys
def bad(c): raise ValueError(c)
for l in open(sys.argv[1]): json.loads(l, parse_constant=bad)" "$T/nan/log.jsonl"'

# stopped_run DIR UNTIL CMD...: CMD -o DIR in the background, sent SIGTERM once the shell
# condition UNTIL holds; its status in rc, stderr in $err. A stop inside a step or an
# evaluation waits for gpt2-train to say it paused there (GPT2_TEST_PAUSE_STEPS,
# GPT2_TEST_PAUSE_EVAL_STEPS), so that no machine is too fast for it. $err is emptied
# first: UNTIL reading the last run's "paused" before the new run has opened $err sent the
# signal to a shell that had not yet become gpt2-train, and it was lost (a paused run then
# waited for ever: the timeout bounds such a hang, it never ends a passing run). timeout
# runs in the foreground so that it passes the one signal on to gpt2-train alone; by
# default it also signals its process group, and a second signal kills gpt2-train outright.
stopped_run() {
    local dir=$1 until=$2 pid
    shift 2
    : >"$err"
    timeout --foreground 600 "$@" -o "$dir" 2>"$err" &
    pid=$!
    wait_for eval "$until"
    kill -TERM $pid
    rc=0
    wait $pid || rc=$?
}

# SIGTERM mid-run (SIGINT takes the same path, but a script's background job ignores
# it): checkpoint, exit 143; resuming matches a run that was never stopped
args=(-i "$T/d_train_*.bin" -e 2:2:32 --vocab 256 --max-seq-len 32 -b 2 -t 16 -d 64 -u 3
    -l 3e-3 --threads 1 -x 1000000 -n 0)
stopped_run "$T/s" '[ "$(grep -sc "\"train\"" "$T/s/log.jsonl")" -ge 3 ] 2>/dev/null' gpt2-train "${args[@]}"
ok "SIGTERM: exit 143" eval 'exits 143 && stderr_has "continue with --resume"'
k=$(ls "$T/s" | sed -n 's/^DONE_0*\([0-9][0-9]*\)$/\1/p')
ok "SIGTERM: a checkpoint at the step reached ($k)" test -n "$k"
k=${k:-1}
run gpt2-train "${args[@]}" -o "$T/s" --resume --stop-at $((k + 4))
run gpt2-train "${args[@]}" -o "$T/u" --stop-at $((k + 4))
losses "$T/s/log.jsonl" | awk -v k="$k" '$1 <= k + 4' >"$T/s.loss"
losses "$T/u/log.jsonl" >"$T/u.loss"
ok "after SIGTERM and resume the losses equal an uninterrupted run's" eval 'test "$(wc -l <"$T/u.loss")" -eq $((k + 4)) && cmp "$T/s.loss" "$T/u.loss"'

# a stop mid-step (here after the first of 20 micro-batches of step 2) drops that step:
# checkpoint of the step before, data position put back, so resuming still matches the
# uninterrupted run
args=(-i "$T/d_train_*.bin" -e 2:2:32 --vocab 256 --max-seq-len 32 -b 2 -t 16 -d 640 -u 1
    -l 3e-3 --threads 1 -x 3 -n 0)
paused='grep -q "paused in step" "$err"'
stopped_run "$T/m" "$paused" env GPT2_TEST_PAUSE_STEPS=2 gpt2-train "${args[@]}"
ok "SIGTERM mid-step: exit 143 at step 1, the partial step 2 dropped" \
    eval 'exits 143 && stderr_has "at step 1;" && test -f "$T/m/DONE_00000001" && test ! -e "$T/m/DONE_00000002"'
run gpt2-train "${args[@]}" -o "$T/m" --resume
run gpt2-train "${args[@]}" -o "$T/mu"
losses "$T/m/log.jsonl" >"$T/m.loss"
losses "$T/mu/log.jsonl" >"$T/mu.loss"
ok "... and resuming gives the uninterrupted run's losses" eval 'test "$(wc -l <"$T/mu.loss")" -eq 3 && cmp "$T/m.loss" "$T/mu.loss"'
run gpt2-train "${args[@]}" -o "$T/m2" --stop-at 1
stopped_run "$T/m2" "$paused" env GPT2_TEST_PAUSE_STEPS=2 gpt2-train "${args[@]}" --resume
ok "a resumed run stopped in its first step writes nothing new and says how to go on" \
    eval 'exits 143 && stderr_has "at step 1; continue with --resume" && test ! -e "$T/m2/DONE_00000002"'

# a stop during an evaluation (after the first of its 8 batches) cuts it short: no
# validation line for it
stopped_run "$T/ev" "$paused" env GPT2_TEST_PAUSE_EVAL_STEPS=0 gpt2-train "${args[@]}" \
    -j "$T/d_val_*.bin" -m 8
ok "SIGTERM during an evaluation: exit 143, no validation line" eval 'exits 143 && ! grep -q "\"val\"" "$T/ev/log.jsonl"'
run train -o "$T/pv" -m 8 -x 0 --progress
ok "--progress in a long evaluation: how many of its batches are done" \
    eval 'exits 0 && tr "\r" "\n" <"$err" | grep -q "step 0/0  \[validation: 7/8 batches\]$"'

# a resumed run evaluates its first step when the log lacks that line (a cut-short evaluation)
train -o "$T/vr" -x 4 -v 2 --stop-at 2 2>/dev/null
sed -i '/"type":"val","step":2,/d' "$T/vr/log.jsonl"
run train -o "$T/vr" -x 4 -v 2 --resume
train -o "$T/vs" -x 4 -v 2 2>/dev/null
ok "resume evaluates the first step when its validation line is missing, once" \
    eval 'exits 0 && diff <(grep "\"val\"" "$T/vs/log.jsonl") <(grep "\"val\"" "$T/vr/log.jsonl")'
train -o "$T/vl" -x 2 -v 2 2>/dev/null
cp "$T/vl/log.jsonl" "$T/vl.log"
sed -i '/"type":"val","step":2,/d' "$T/vl/log.jsonl"
run train -o "$T/vl" -x 2 -v 2 --resume
ok "a run whose last evaluation was cut short: resume does just that evaluation" \
    eval 'exits 0 && ! stderr_has "nothing to train" && diff <(grep "\"val\"" "$T/vl.log") <(grep "\"val\"" "$T/vl/log.jsonl")'

# a log whose last line was cut short (a crash or a full disk while writing): that partial
# validation line does not count, and the resumed run's lines start on lines of their own
train -o "$T/vt" -x 4 -v 2 --stop-at 2 2>/dev/null
python3 - "$T/vt/log.jsonl" <<'PY'
import sys
s = open(sys.argv[1]).read()
open(sys.argv[1], "w").write(s[:s.index('{"type":"val","step":2,') + 30])
PY
run train -o "$T/vt" -x 4 -v 2 --resume
ok "a torn last log line: its evaluation runs again, the new lines stand apart" \
    eval 'exits 0 && diff <(grep "^{\"type\":\"val\"" "$T/vs/log.jsonl") <(grep "^{\"type\":\"val\".*}$" "$T/vt/log.jsonl") &&
    test "$(grep -c "^{\"type\":\"start\"" "$T/vt/log.jsonl")" -eq 2'

# --init: a config that is not one is a usage error; a missing file is named as one
for bad in 0:1:32 2:3:32 nonsense; do
    run train -o "$T/bi" -x 1 -e "$bad"
    ok "--init $bad: usage error, exit 2, nothing created" eval 'exits 2 && stderr_has "^gpt2-train: --init $bad: " && test ! -e "$T/bi/log.jsonl"'
done
run train -o "$T/bi" -x 1 -e "$T/missing.bin"
ok "--init MISSING.bin: No such file or directory, exit 1" eval 'exits 1 && stderr_has "missing.bin: No such file or directory"'

# gpt2-train-log(5) names every line type and key that the runs above logged (a diverged
# one's "skipped" among them), and every line starts with its type and step
ok "every key of every log is in gpt2-train-log(5)" python3 - "$TOP/man/gpt2-train-log.5" "$T" <<'PY'
import glob, json, re, sys
page = open(sys.argv[1]).read()
types = set(re.findall(r"^\.It Cm (\w+)$", page, re.M))
keys = {k for line in re.findall(r"^\.It .*$", page, re.M) for k in re.findall(r"D[qo] (\w+)", line)}
seen, bad = set(), []
for path in glob.glob(sys.argv[2] + "/*/log.jsonl"):
    for line in open(path):
        if not line.endswith("}\n"):
            continue  # the torn-line test's own
        o = json.loads(line)
        seen |= set(o)
        if o["type"] not in types or not set(o) <= keys | {"type"} or \
                not line.startswith('{"type":"%s","step":%d,' % (o["type"], o["step"])):
            bad.append(line)
if bad:
    print("# undocumented or out of order:", bad[:3])
sys.exit(bool(bad) or "skipped" not in seen or "version" not in seen)
PY

# -T is --seq-len, as in gpt2-eval; -t (llm.c's spelling) still means the same
for o in T t; do train -o "$T/seq$o" -x 2 -$o 8 --no-progress 2>/dev/null; done
train -o "$T/seq16" -x 2 --no-progress 2>/dev/null
ok "-T 8 trains as -t 8 does, and not as T=16 does" eval 'cmp -s "$T/seqT/model_00000002.bin" "$T/seqt/model_00000002.bin" &&
    ! cmp -s "$T/seqT/model_00000002.bin" "$T/seq16/model_00000002.bin"'

done_testing
