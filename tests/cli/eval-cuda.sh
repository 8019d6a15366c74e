#!/usr/bin/env bash
# gpt2-eval on CUDA against the CPU: every per-ending loss of --verbose and the predictions,
# fp32 mode tight, bf16 loose. Skips without a CUDA device (or a build without CUDA).
. "$(dirname "$0")/../lib.sh"
need_python torch numpy
# head size 64, as the CUDA attention needs
PYTHONPATH=$TOP/tests/ref "$PY" -c '
import sys, gpt2_ref as r
cfg = dict(maxT=64, V=50257, Vp=50304, L=2, NH=2, C=128)
r.write_llmc(sys.argv[1], cfg, r.random_params(cfg, seed=5))' "$T/m.bin"
for i in 0 1 2 3 4 5 6 7; do
    printf '{"ind": %d, "ctx": "Story %d. A woman is in a kitchen and she", "label": %d, "endings": ["cuts the onions.", "flies over the moon with a spoon in her hand.", "is", "opens the oven and takes out a tray of cookies."]}\n' $i $i $((i % 4))
done >"$T/hs.jsonl"
run gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl" --device cuda --fp32 -n 1
if ! exits 0; then
    # only a missing device or a build without CUDA skips; a broken setup ("CUDA is
    # installed but unusable") fails below
    grep -qE "no CUDA device|without CUDA" "$err" && skip_all "no CUDA device"
fi
ok "cuda fp32 runs" exits 0
gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl" -d cpu -b 8 -v >"$T/cpu.out" 2>"$T/cpu.v"
for mode in fp32 bf16; do
    flag=$([ $mode = fp32 ] && echo --fp32)
    run gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl" --device cuda $flag -b 8 -v
    ok "cuda $mode: exit 0" exits 0
    cp "$err" "$T/$mode.v"
    # fp32: rounding order only; bf16: 8-bit mantissas through 2 layers
    tol=$([ $mode = fp32 ] && echo 1e-3 || echo 3e-2)
    ok "cuda $mode: every summed and mean loss within $tol (relative) of the CPU" \
        awk -F'\t' -v tol="$tol" 'NR == FNR {for (k = 6; k <= 13; k++) c[FNR, k] = $k; n++; next}
            {m++; for (k = 6; k <= 13; k++) { d = $k - c[FNR, k]; if (d < 0) d = -d
             if (d > tol * (c[FNR, k] < 0 ? -c[FNR, k] : c[FNR, k]) + 1e-4) bad = 1 } }
            END {exit bad || n != 8 || m != 8}' "$T/cpu.v" "$T/$mode.v"
done
ok "cuda fp32: same predictions as the CPU" \
    cmp -s <(cut -f1-5 "$T/cpu.v") <(cut -f1-5 "$T/fp32.v")
done_testing
