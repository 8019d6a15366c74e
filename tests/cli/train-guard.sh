#!/usr/bin/env bash
# gpt2-train's guards (issue 18): a step with a NaN is never applied, an outlier step is
# skipped with --skip-z, a run of skipped steps stops with the checkpoint to resume from,
# a non-finite state is neither written nor prunes a good checkpoint, and a log line that
# cannot be written stops the run at once. Bad batches and weights come from the test
# knobs of tests/README.md.
. "$(dirname "$0")/../lib.sh"

# one llm.c shard of pseudo-random byte tokens
python3 -c '
import struct, sys
x, t = 7, []
for i in range(20000):
    x = (x * 1103515245 + 12345) % 2**31
    t.append((x >> 16) % 256)
with open(sys.argv[1] + "/g_train_000001.bin", "wb") as f:
    f.write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253))
    f.write(struct.pack(f"<{len(t)}H", *t))' "$T"

train() { gpt2-train -i "$T/g_train_*.bin" -e 1:2:16 --vocab 256 --max-seq-len 16 -b 2 -t 16 \
    -d 32 -u 2 -l 3e-3 --threads 1 "$@"; }
skipped() { grep -c '"skipped"' "$1/log.jsonl"; }
step_line() { grep "\"type\":\"train\",\"step\":$2," "$1/log.jsonl"; }

# a NaN batch at step 25 and a spike (gradients 1000 times too large) at step 25 under
# --skip-z: each is skipped, and the two runs end with the same bits
GPT2_TEST_NAN_STEPS=25 run train -o "$T/nan" -x 30 --skip-z 5
ok "a NaN step: the run goes on and ends with 0" exits 0
ok "the NaN step is logged as skipped, and it alone" \
    eval 'step_line "$T/nan" 25 | grep -q "\"skipped\":\"non-finite\"" && test "$(skipped "$T/nan")" = 1'
ok "the losses after it are finite" \
    eval 'test "$(grep -c "\"loss\":null" "$T/nan/log.jsonl")" = 1 && step_line "$T/nan" 30 | grep -q "\"loss\":[0-9]"'
run train -o "$T/nan" -x 30 --resume
ok "its final checkpoint loads" eval 'exits 0 && stderr_has "nothing to train"'
GPT2_TEST_SPIKE_STEPS=25 run train -o "$T/spike" -x 30 --skip-z 5
ok "--skip-z: the spike is skipped as an outlier" \
    eval 'exits 0 && step_line "$T/spike" 25 | grep -q "\"skipped\":\"norm-outlier\"" && test "$(skipped "$T/spike")" = 1'
ok "a skipped NaN step leaves the model a skipped spike does" \
    cmp "$T/nan/model_00000030.bin" "$T/spike/model_00000030.bin"
GPT2_TEST_SPIKE_STEPS=25 run train -o "$T/applied" -x 30
ok "without --skip-z the spike is applied" \
    eval 'exits 0 && test "$(skipped "$T/applied")" = 0 && ! cmp -s "$T/applied/model_00000030.bin" "$T/spike/model_00000030.bin"'

# steps 3, 4, 5 bad: --max-bad-steps 3 stops after the third, naming checkpoint 4 (a
# finite state: the weights of step 2)
GPT2_TEST_NAN_STEPS=3,4,5 run train -o "$T/bad" -x 10 -n 2 --max-bad-steps 3
ok "--max-bad-steps: exit 1 after 3 skipped steps in a row" \
    eval 'exits 1 && stderr_has "step 5: 3 steps in a row skipped"'
ok "the message names the newest good checkpoint and --resume" \
    eval 'stderr_has "$T/bad/model_00000004.bin: continue from it with --resume"'
ok "and nothing was written after it" eval 'test "$(ls "$T/bad" | grep -c ^DONE_)" = 2'
run train -o "$T/bad" -x 10 -n 2 --resume
ok "the run resumes from it" eval 'exits 0 && test -e "$T/bad/DONE_00000010"'

# a weight gone bad after step 3: steps 4.. are skipped (non-finite loss), and the
# checkpoint of step 4 is neither written nor allowed to prune step 2's (-k 1)
GPT2_TEST_NAN_WEIGHTS_STEPS=3 run train -o "$T/state" -x 8 -n 2 -k 1 --max-bad-steps 0
ok "a non-finite state is not written: exit 1" \
    eval 'exits 1 && stderr_has "step 4: parameter .* is NaN: no checkpoint written, none pruned"'
ok "the good checkpoint is kept, and named" \
    eval 'test -e "$T/state/DONE_00000002" && test ! -e "$T/state/model_00000004.bin" && stderr_has "model_00000002.bin"'

# a log that cannot be written: /dev/full, and a file size limit (the log outgrows 4 KiB
# before the one checkpoint at the end)
mkdir "$T/full" && ln -s /dev/full "$T/full/log.jsonl"
run train -o "$T/full" -x 6 -n 2
ok "a full disk under the log: exit 1 at once" \
    eval 'exits 1 && stderr_has "log.jsonl: write error: No space left" && test ! -e "$T/full/DONE_00000002"'
run bash -c 'ulimit -f 4; exec "$@"' - "$BIN/gpt2-train" -i "$T/g_train_*.bin" -e 1:2:16 --vocab 256 \
    --max-seq-len 16 -b 2 -t 16 -d 32 --threads 1 -o "$T/fsize" -x 200 -n 0
ok "a file size limit on the log: exit 1 at once" \
    eval 'exits 1 && stderr_has "log.jsonl: write error: File too large" && test "$(ls "$T/fsize" | grep -c ^DONE_)" = 0'
ok "the line that did not fit is cut back: the log ends with a whole line" \
    eval 'test -s "$T/fsize/log.jsonl" && test -z "$(tail -c 1 "$T/fsize/log.jsonl")"'
done_testing
