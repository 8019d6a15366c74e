#!/usr/bin/env bash
# A broken CUDA setup is not a machine without a GPU: with a driver too old for the runtime
# (a stand-in libcuda.so.1 reporting CUDA 1.0, found first through LD_LIBRARY_PATH), the GPU
# tests fail instead of skipping and --device cuda names the problem; with no driver at
# all (the toolkit's stub libcuda), they skip. Needs a CUDA build and a C compiler.
. "$(dirname "$0")/../lib.sh"
gpu_test=$TESTBIN/gpu/model_cuda
[ -x "$gpu_test" ] || skip_all "built without CUDA (no $gpu_test)"
command -v "${CC:-cc}" >/dev/null || skip_all "no C compiler to build the stand-in driver"

mkdir "$T/old"
printf '%s\n' 'int cuDriverGetVersion(int *v) { *v = 1000; return 0; }' \
    'int cuInit(unsigned f) { (void)f; return 0; }' >"$T/old.c"
ok "a stand-in driver of CUDA 1.0 builds" "${CC:-cc}" -shared -fPIC -o "$T/old/libcuda.so.1" "$T/old.c"
LD_LIBRARY_PATH=$T/old run "$gpu_test"
ok "an old driver: the GPU test fails, naming the problem" \
    eval 'exits 1 && grep -q "^not ok 1 - CUDA is installed but unusable: .*driver" "$out"'
ok "... and does not skip" eval '! grep -q SKIP "$out"'
"$TESTBIN/helpers/sample_model" "$T/m.bin" 1 1 64 16 || exit 1
LD_LIBRARY_PATH=$T/old run gpt2-sample -m "$T/m.bin" -p hi -n 1 --device cuda
ok "an old driver: --device cuda says CUDA is unusable, not that there is no device" \
    eval 'exits 1 && stderr_has "CUDA is installed but unusable" && ! stderr_has "no CUDA device"'

stub=$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/stubs/libcuda.so 2>/dev/null)
if [ -n "$stub" ]; then
    mkdir "$T/stub" && ln -s "$stub" "$T/stub/libcuda.so.1"
    LD_LIBRARY_PATH=$T/stub run "$gpu_test"
    ok "no driver (the toolkit's stub): the GPU test skips" eval 'exits 0 && grep -q "^1..0 # SKIP no CUDA device" "$out"'
else
    echo "# no stub libcuda.so in the CUDA toolkit: the no-driver case is not checked"
fi
done_testing
