#!/usr/bin/env bash
# The CPU model against the PyTorch reference (tests/ref/gpt2_ref.py): logits, loss, every
# gradient, 10 AdamW steps, bf16 and safetensors loading. Tolerances in check_model.py.
. "$(dirname "$0")/../lib.sh"
/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null || skip_all "python3 with torch and numpy not available"
dump=${TESTBIN:-$TOP/build/tests}/helpers/model_dump
[ -x "$dump" ] || skip_all "model_dump not built"
OMP_NUM_THREADS=2 exec /usr/bin/python3 "$TOP/tests/ref/check_model.py" "$dump" "$T"
