#!/usr/bin/env bash
# gpt2-eval HellaSwag throughput, GPT-2 d12 (124M, random weights) on the CPU: examples/s
# at 1 and 4 examples per forward pass, against the PyTorch scoring of the same examples
# (tests/ref/hellaswag_ref.py, the 4 rows of an example in one batch) measured here.
# Times exclude model loading. EVAL_BENCH_EXAMPLES (default 8) synthetic examples of the
# real set's shape (context ~40 tokens, endings ~20). With a CUDA device, a GPU line too.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/bin}
N=${EVAL_BENCH_EXAMPLES:-8}
# these machines' OpenBLAS workaround variables slow the current OpenBLAS (DESIGN.md)
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-bench-eval.XXXXXX")
trap 'rm -rf "$T"' EXIT
export PYTHONPATH=$TOP/tests/ref
/usr/bin/python3 - "$T" "$N" <<'PY'
import json, sys
import numpy as np
import gpt2_ref as ref
tmp, n = sys.argv[1], int(sys.argv[2])
cfg = dict(maxT=1024, V=50257, Vp=50304, L=12, NH=12, C=768)
ref.write_llmc(f"{tmp}/d12.bin", cfg, ref.random_params(cfg, seed=1))
rng = np.random.default_rng(0)
words = ("the a man woman dog is are was then she he they it runs walks holds pulls into "
         "onto over under water ball field kitchen slowly quickly again after before while "
         "camera shows people standing sitting talking smiling").split()
def text(k):
    return " ".join(rng.choice(words, k)).capitalize() + "."
with open(f"{tmp}/hs.jsonl", "w") as f:
    for i in range(n):
        f.write(json.dumps({"ind": i, "ctx": text(36), "label": int(rng.integers(4)),
                            "endings": [text(int(rng.integers(12, 24))) for _ in range(4)]}) + "\n")
PY
secs() { awk -F'\t' 'NR == 2 {print $9}' "$1"; }
threads=$(nproc)
echo "gpt2-eval HellaSwag, d12 random weights, $N examples, CPU, $threads threads"
/usr/bin/python3 -c 'import torch; torch.set_num_threads('"$threads"'); import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")' \
    "$TOP/tests/ref/hellaswag_ref.py" "$BIN" "$T/d12.bin" "$T/hs.jsonl" >"$T/torch.out"
base=$(awk '{print $4}' "$T/torch.out")
# acc_norm of each run: the same examples and weights, so they should agree
norm() { awk -F'\t' 'NR == 2 {print $6}' "$1"; }
rate() { awk -v n="$N" -v s="$1" 'BEGIN {printf "%.3f", n / s}'; }
printf '  %-28s %8s ex/s  (%.2f s)  acc_norm %s\n' "PyTorch 1.13 (baseline)" "$(rate "$base")" "$base" \
    "$(awk '{print $8}' "$T/torch.out")"
for b in 1 4; do
    "$BIN/gpt2-eval" -m "$T/d12.bin" --hellaswag "$T/hs.jsonl" --device cpu -b $b >"$T/c$b.out"
    s=$(secs "$T/c$b.out")
    printf '  %-28s %8s ex/s  (%.2f s)  acc_norm %s  x%s vs PyTorch\n' "gpt2-eval --device cpu -b $b" \
        "$(rate "$s")" "$s" "$(norm "$T/c$b.out")" "$(awk -v a="$base" -v b="$s" 'BEGIN {printf "%.2f", a / b}')"
done
if "$BIN/gpt2-eval" -m "$T/d12.bin" --hellaswag "$T/hs.jsonl" --device cuda -b 16 >"$T/g.out" 2>/dev/null; then
    s=$(secs "$T/g.out")
    printf '  %-28s %8s ex/s  (%.2f s)  acc_norm %s  x%s vs PyTorch CPU\n' "gpt2-eval --device cuda -b 16" \
        "$(rate "$s")" "$s" "$(norm "$T/g.out")" "$(awk -v a="$base" -v b="$s" 'BEGIN {printf "%.2f", a / b}')"
else
    echo "  gpt2-eval --device cuda: no CUDA device (skipped)"
fi
