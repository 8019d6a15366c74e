#!/usr/bin/env bash
# Readers of the files users hand to the tools, from outside: a FIFO where a model, shard,
# validation, state or log file is wanted is refused at once ("not a regular file") by
# every tool, and one without writer as HellaSwag file (a stream) reads as empty rather
# than hanging; a UTF-8 byte order mark in JSON Lines is named; positions in messages
# count from 0 in every tool.
. "$(dirname "$0")/../lib.sh"
M=$T/tiny.bin
"$TESTBIN/helpers/sample_model" "$M" 2 2 32 64 5 || exit 1
mkfifo "$T/fifo"
# a shard of 2000 ids below 250: validation for the tiny model, training data too
"${PYTHON:-python3}" -c 'import struct, sys
t = [(i * 7 + 3) % 250 for i in range(2000)]
open(sys.argv[1], "wb").write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253) +
                              struct.pack(f"<{len(t)}H", *t))' "$T/d_val_000000.bin"
cp "$T/d_val_000000.bin" "$T/d_train_000001.bin"

# Each reader with the FIFO, under `timeout 120`: a reader that blocks for a writer is
# killed (status 124) and fails; a right one answers at once. The bound only ends a hang:
# a machine ten times slower than any seen still answers far within it.
fifo_refused() { # fifo_refused NAME CMD...
    local name=$1
    shift
    run timeout 120 "$@"
    ok "$name: refused at once, not a regular file" \
        eval 'exits 1 && stderr_has "fifo: not a regular file"'
}
fifo_refused "gpt2-sample -m FIFO" gpt2-sample -m "$T/fifo" -p hi
fifo_refused "gpt2-eval -m FIFO" gpt2-eval -m "$T/fifo" --val "$T/d_val_000000.bin"
fifo_refused "gpt2-eval --val FIFO" gpt2-eval -m "$M" --val "$T/fifo"
run timeout 120 gpt2-eval -m "$M" --hellaswag "$T/fifo"
ok "gpt2-eval --hellaswag FIFO without writer: read as empty at once, not waited on" \
    eval 'exits 1 && stderr_has "fifo: no HellaSwag records"'
fifo_refused "gpt2-eval --log FIFO" gpt2-eval -m "$M" --val "$T/d_val_000000.bin" -w 1 \
    --log "$T/fifo"
fifo_refused "gpt2-shard --verify FIFO" gpt2-shard --verify "$T/fifo"
train=(gpt2-train --vocab 250 --max-seq-len 32 -b 1 -t 16 -d 16 --threads 1)
fifo_refused "gpt2-train -e FIFO" "${train[@]}" -e "$T/fifo" -i "$T/d_train_*.bin" -o "$T/r0" -x 1
fifo_refused "gpt2-train -i FIFO" "${train[@]}" -e 2:2:32 -i "$T/fifo" -o "$T/r1" -x 1
fifo_refused "gpt2-train --val FIFO" "${train[@]}" -e 2:2:32 -i "$T/d_train_*.bin" --val "$T/fifo" \
    -o "$T/r2" -x 1
run "${train[@]}" -e 2:2:32 -i "$T/d_train_*.bin" -o "$T/r3" -x 1 -n 1
ok "a one-step run with a checkpoint" exits 0
rm "$T/r3/state_00000001.bin" && mkfifo "$T/r3/state_00000001.bin"
run timeout 120 "${train[@]}" -i "$T/d_train_*.bin" -o "$T/r3" -x 2 --resume
ok "gpt2-train --resume with a FIFO as state file: refused at once" \
    eval 'exits 1 && stderr_has "state_00000001.bin: not a regular file"'

# a UTF-8 byte order mark (as some editors write) is named, not left as "JSON expected"
printf '{"text":"a"}\n\357\273\277{"text":"b"}\n' >"$T/bom.jsonl"
run gpt2-tokenize --jsonl "$T/bom.jsonl"
ok "gpt2-tokenize --jsonl: a BOM at the start of line 2 is named" \
    eval 'exits 1 && stderr_has "bom.jsonl:2: .*byte order mark"'

# token positions count from 0, as gpt2-eval's and gpt2-shard's messages do
printf '5 7 60000\n' >"$T/ids.txt"
run gpt2-sample -m "$M" --tokens --format text -n 1 "$T/ids.txt"
ok "gpt2-sample: an id outside the vocabulary at position 2 (from 0)" \
    eval 'exits 1 && stderr_has "ids.txt: token 2: id 60000"'

done_testing
