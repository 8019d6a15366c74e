#!/usr/bin/env bash
# Paths as users have them, through the whole pipeline: a directory with a space and glob
# characters ("lr[3]"). A file named exactly is that file even though its name reads as a
# pattern that matches nothing (the shell's rule): gpt2-train -i, gpt2-eval -m and --val.
. "$(dirname "$0")/../lib.sh"

d="$T/my runs/lr[3]"
for i in $(seq 200); do echo "The cat $i sat on the mat, and the dog ran by the barn."; done |
    gpt2-tokenize | gpt2-shard -o "$d/s" --val-tokens 512 2>/dev/null
ok "gpt2-tokenize | gpt2-shard into the directory" [ -f "$d/s_train_000001.bin" ]
run gpt2-train -i "$d/s_train_000001.bin" -j "$d/s_val_000000.bin" -o "$d/out" -e 1:2:16 \
    --max-seq-len 16 -t 16 -b 2 -d 32 -x 2 -u 1 -v 2 -m 2 --device cpu --threads 1 --no-progress
ok "gpt2-train -i and -j take the shards' own names" eval 'exits 0 && [ -e "$d/out/DONE_00000002" ]'
m="$d/out/model_00000002.bin"
run gpt2-eval -m "$m" --val "$d/s_val_000000.bin" -w 4 --device cpu --dtype fp32
ok "gpt2-eval -m and --val take the files' own names" \
    eval 'exits 0 && [ "$(cut -f1,2,4 "$out" | tail -n +2)" = "$m	2	val" ]'
# the loss gpt2-train logged for the same four windows of the same shard (fp32, as it trained)
want=$(sed -n 's/.*"type":"val","step":2,"loss":\([0-9.]*\).*/\1/p' "$d/out/log.jsonl")
ok "... and score the model as gpt2-train did" \
    awk -F'\t' -v w="$want" 'NR == 2 {d = $7 - w; good = w != "" && d * d < 1e-10} END {exit !good}' "$out"
run gpt2-eval -m "$d/out/nothing_*.bin" --val "$d/s_val_000000.bin" --device cpu
ok "a pattern that matches nothing is still no error" eval 'exits 0 && [ "$(wc -l <"$out")" -eq 1 ]'
run gpt2-eval -m "$d/out/model_*.bin" --val "$d/s_val_000000.bin" --device cpu
ok "... but a directory whose name reads as a pattern gets a warning: escape its [ ]" \
    eval 'exits 0 && stderr_has "matches nothing, but the directory .*lr\[3\]/out exists"'
run gpt2-eval -m "$T/my runs/lr\[3\]/out/model_*.bin" --val "$d/s_val_000000.bin" -w 4 --device cpu
ok "... escaped, the pattern finds the checkpoint" \
    eval 'exits 0 && [ "$(cut -f1 "$out" | tail -n +2)" = "$m" ]'
run gpt2-sample -m "$m" -p "The cat" -n 4 --seed 1
ok "gpt2-sample reads it too" eval 'exits 0 && [ -s "$out" ]'
run gpt2-tokenize -o "$d/no such dir/x.tok" /dev/null
ok "gpt2-tokenize -o into a missing directory: exit 1 naming the file, not its temp file" \
    eval 'exits 1 && stderr_has "no such dir/x.tok: No such file or directory" && ! stderr_has "[.]tmp[.]"'
done_testing
