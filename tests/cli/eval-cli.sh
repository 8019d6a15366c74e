#!/usr/bin/env bash
# gpt2-eval's command line without the PyTorch reference: batches grouped by length as the
# man page says, and models whose vocabulary cannot take HellaSwag's or the validation
# shards' tokens (named, skipped, the others evaluated).
. "$(dirname "$0")/../lib.sh"
M=$T/tiny.bin
"$TESTBIN/helpers/sample_model" "$M" 1 2 16 64 3 || exit 1

# three records: the longest first, the shortest second
{
    echo '{"ctx": "A man is sitting on a roof with a long ladder beside him and a bucket of nails, and he", "label": 0, "endings": ["climbs down the ladder slowly.", "eats.", "sings a song about the weather today.", "waves."]}'
    echo '{"ctx": "She", "label": 1, "endings": ["runs.", "sits.", "jumps.", "naps."]}'
    echo '{"ctx": "The dog barks at the cat and", "label": 2, "endings": ["runs away.", "sleeps.", "eats food.", "hides."]}'
} >"$T/hs.jsonl"
indices() { awk -F'\t' '/^[0-9]/ {printf "%s ", $1}' "$err"; }
# per example (by file index): the two predictions
preds() { awk -F'\t' '/^[0-9]/ {print $1, $4, $5}' "$err" | sort; }

run gpt2-eval -m "$M" --hellaswag "$T/hs.jsonl" --device cpu -v -b 1
ok "-b 1: examples in file order" eval 'exits 0 && [ "$(indices)" = "0 1 2 " ]'
preds >"$T/p1"
run gpt2-eval -m "$M" --hellaswag "$T/hs.jsonl" --device cpu -v -b 2
ok "-b 2: examples grouped by length, shortest first" eval 'exits 0 && [ "$(indices)" = "1 2 0 " ]'
preds >"$T/p2"
ok "-b 2: the same predictions as -b 1" eval 'test -s "$T/p1" && cmp -s "$T/p1" "$T/p2"'
run gpt2-eval -m "$M" --hellaswag "$T/hs.jsonl" -d cpu -v -b 2
ok "-d, --device's old spelling, still works" eval 'exits 0 && preds | cmp -s - "$T/p2"'
run gpt2-eval -m "$M" --hellaswag "$T/hs.jsonl" -d gpu
ok "-d checks its value as --device does" eval "exits 2 && grep -q \"'gpu' is not auto, cpu or cuda\" \"\$err\""

# a model of 256 tokens (llm.c header, zero weights): HellaSwag's ids do not fit it
python3 - "$T/small.bin" <<'PY'
import struct, sys
V, C, L, T = 256, 16, 1, 64
n = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C
open(sys.argv[1], "wb").write(struct.pack("<256i", 20240326, 3, T, V, L, 2, C, V, *[0] * 248) + bytes(4 * n))
PY
run gpt2-eval -m "$T/small.bin" -m "$M" --hellaswag "$T/hs.jsonl" --device cpu
ok "a 256-token model: exit 1 naming it and the vocabularies" \
    eval 'exits 1 && stderr_has "small.bin: HellaSwag is tokenized with GPT-2.s 50257 tokens, the model knows 256"'
ok "the other model is still evaluated" eval 'grep -q "tiny.bin.*hellaswag" "$out"'

# validation windows with GPT-2's ids: the same for --val, whichever model comes first
python3 - "$T/v_val_000000.bin" <<'PY'
import struct, sys
t = [(i * 7919) % 50257 for i in range(200)]
open(sys.argv[1], "wb").write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253) + struct.pack(f"<{len(t)}H", *t))
PY
for order in "$T/small.bin $M" "$M $T/small.bin"; do
    set -- $order
    run gpt2-eval -m "$1" -m "$2" --val "$T/v_val_000000.bin" -T 16 --device cpu
    ok "--val, ${1##*/} first: exit 1 naming the 256-token model and the id" \
        eval 'exits 1 && stderr_has "small.bin: the validation shards hold token 50210 (.*v_val_000000.bin, token 165), outside the model.s 256 tokens"'
    ok "--val, ${1##*/} first: the other model is still evaluated" eval 'grep -q "tiny.bin.*val" "$out"'
done
done_testing
