#!/usr/bin/env bash
# make demo, shrunk by its knobs: the five stages run on the shipped corpus, the validation
# loss is printed, the sample starts with the prompt, the picture is drawn into the demo
# directory, and doc/demo.png (the README's picture) is left alone when a knob is set.
. "$(dirname "$0")/../lib.sh"
command -v gnuplot >/dev/null || skip_ref "no gnuplot (Debian: gnuplot-nox)"
command -v zstd >/dev/null || skip_ref "no zstd"

# -o: the tools under test are taken as built (BIN may be the sanitizer build)
bins=(tokenize shard train sample)
keep=()
for b in "${bins[@]}"; do keep+=(-o "$BIN/gpt2-$b"); done
before=$(cksum <"$TOP/doc/demo.png")
run make -s -C "$TOP" "${keep[@]}" demo BINDIR="$BIN" DEMO_DIR="$T/demo" DEMO_MODEL=1:1:64 \
    DEMO_STEPS=2 DEMO_DEVICE=cpu DEMO_PROMPT="Once upon"
ok "make demo with small knobs: exit 0" exits 0
for stage in "1/5 tokenize" "2/5 pack shards" "3/5 train" "4/5 sample" "5/5 draw"; do
    ok "  stage $stage announced" grep -q "== $stage" "$out"
done
ok "  validation loss printed at step 0 and at the last step" \
    eval 'grep -q "validation loss [0-9.]* at step 0$" "$out" && grep -q "validation loss [0-9.]* at step 2$" "$out"'
ok "  the sample starts with the prompt" grep -q "^Once upon" "$out"
ok "  the picture drawn into the demo directory" \
    eval '[ "$(od -A n -t x1 -N 4 "$T/demo/run/chart.png" | tr -d " ")" = 89504e47 ]'
ok "  doc/demo.png untouched when a knob is set" [ "$(cksum <"$TOP/doc/demo.png")" = "$before" ]
done_testing
