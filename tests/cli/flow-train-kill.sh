#!/usr/bin/env bash
# gpt2-train killed outright (SIGKILL: nothing can clean up) while writing a checkpoint
# leaves a temp file as big as the model; gpt2-eval never reads it, and the next run into
# the directory (resumed or fresh) removes it and only it, with a warning.
. "$(dirname "$0")/../lib.sh"

for i in $(seq 200); do echo "The cat $i sat on the mat, and the dog ran by the barn."; done |
    gpt2-tokenize | gpt2-shard -o "$T/d/s" --val-tokens 512 2>/dev/null
ck=$T/run
train() {
    gpt2-train -i "$T/d/s_train_*.bin" -o "$ck" -e 1:2:16 --max-seq-len 16 -t 16 -b 2 -d 32 \
        -u 1 -n 1 --device cpu --threads 1 --no-progress "$@"
}
train -x 2 2>/dev/null
# what SIGKILL leaves mid-checkpoint: each checkpoint file's temp, beside files that are
# none of gpt2-train's (not its names, or not a mkstemp suffix)
cp "$ck/model_00000002.bin" "$ck/model_00000003.bin.tmp.Ab12Cd"
head -c 300 "$ck/state_00000002.bin" >"$ck/state_00000003.bin.tmp.x9Y8z7"
: >"$ck/DONE_00000003.tmp.QQQQQQ"
run gpt2-eval -m "$ck/model_*" --val "$T/d/s_val_*.bin" -w 2 --device cpu
ok "gpt2-eval reads no temp file" eval 'exits 0 && ! grep -q "[.]tmp[.]" "$out" && [ "$(wc -l <"$out")" -eq 3 ]'
: >"$ck/notes.tmp.Ab12Cd"
: >"$ck/model_3.bin.tmp.Ab12Cd"
: >"$ck/model_00000003.bin.tmp.Ab12Cd7"
keep="DONE_00000001 DONE_00000002 DONE_00000003 log.jsonl model_00000001.bin model_00000002.bin \
model_00000003.bin model_00000003.bin.tmp.Ab12Cd7 model_3.bin.tmp.Ab12Cd notes.tmp.Ab12Cd"
run train -x 3 --resume
ok "the resumed run goes on" eval 'exits 0 && [ -e "$ck/DONE_00000003" ]'
ok "... removes the three temp files, saying so" \
    eval '[ "$(grep -c "removed .*left by a run killed while writing it" "$err")" -eq 3 ]'
ok "... and nothing else" [ "$(cd "$ck" && ls | grep -v '^state_' | tr '\n' ' ')" = "$keep " ]

done_testing
