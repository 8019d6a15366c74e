#!/usr/bin/env bash
# The CPU model against the PyTorch reference (tests/ref/gpt2_ref.py): logits, loss, every
# gradient, 10 AdamW steps, bf16 and safetensors loading. Tolerances in check_model.py.
. "$(dirname "$0")/../lib.sh"
need_python torch numpy
dump=$TESTBIN/helpers/model_dump
[ -x "$dump" ] || skip_ref "model_dump not built (make builds it)"
OMP_NUM_THREADS=2 exec "$PY" "$TOP/tests/ref/check_model.py" "$dump" "$T"
