#!/usr/bin/env bash
# A broken CUDA setup is not a machine without a GPU: with a driver too old for the runtime
# (a stand-in libcuda.so.1 reporting CUDA 1.0, found first through LD_LIBRARY_PATH), the GPU
# tests fail instead of skipping and --device cuda names the problem; with no driver at
# all (the toolkit's stub libcuda), they skip. And how the tools find the CUDA plugin.
# Needs a CUDA build and a C compiler.
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

# The CUDA code is a plugin (bin/gpt2-cuda.so) the tools open only when they may use a GPU:
# none of them links cuBLAS, each opens the plugin (its calls into the library resolve
# against the program), and a missing plugin or one of another build is named, not run.
for tool in tokenize shard train sample eval; do
    ok "gpt2-$tool does not link cuBLAS" eval '! ldd "$BIN/gpt2-$tool" | grep -q libcublas'
done
python3 -c 'import struct, sys; sys.stdout.buffer.write(struct.pack("<4000H", *[i % 16 for i in range(4000)]))' |
    "$BIN/gpt2-shard" --vocab-size 16 --val-tokens 1000 -o "$T/x" 2>/dev/null
LD_LIBRARY_PATH=$T/old run gpt2-train -e "$T/m.bin" -i "$T/x_train_*.bin" -b 1 -t 4 -x 1 \
    -o "$T/run" --device cuda
ok "gpt2-train opens the plugin" eval 'exits 1 && stderr_has "CUDA is installed but unusable"'
printf '{"ind": 0, "ctx": "a", "label": 0, "endings": ["b", "c", "d", "e"]}\n' >"$T/hs.jsonl"
LD_LIBRARY_PATH=$T/old run gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl" --device cuda
ok "gpt2-eval opens the plugin" eval 'exits 1 && stderr_has "CUDA is installed but unusable"'
GPT2_CUDA_PLUGIN=$T/none.so run gpt2-sample -m "$T/m.bin" -p hi -n 1 --device cuda
ok "a missing plugin: --device cuda names it" eval 'exits 1 && stderr_has "$T/none.so"'
GPT2_CUDA_PLUGIN=$T/none.so LD_LIBRARY_PATH=$T/old run gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl"
ok "a missing plugin with a driver: --device auto says so and uses the CPU" \
    eval 'exits 0 && stderr_has "using the CPU" && stderr_has "$T/none.so" && grep -q hellaswag "$out"'
if ! ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
    GPT2_CUDA_PLUGIN=$T/none.so run gpt2-eval -m "$T/m.bin" --hellaswag "$T/hs.jsonl"
    ok "no driver: --device auto never looks for the plugin" eval 'exits 0 && [ ! -s "$err" ]'
fi
printf 'const unsigned long cuda_backend_entry[3] = {1, 0, 0};\n' >"$T/other.c"
"${CC:-cc}" -shared -fPIC -o "$T/other.so" "$T/other.c"
GPT2_CUDA_PLUGIN=$T/other.so run gpt2-sample -m "$T/m.bin" -p hi -n 1 --device cuda
ok "a plugin of another build is refused" eval 'exits 1 && stderr_has "from another build of gpt2"'

stub=$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/stubs/libcuda.so 2>/dev/null)
if [ -n "$stub" ]; then
    mkdir "$T/stub" && ln -s "$stub" "$T/stub/libcuda.so.1"
    LD_LIBRARY_PATH=$T/stub run "$gpu_test"
    ok "no driver (the toolkit's stub): the GPU test skips" eval 'exits 0 && grep -q "^1..0 # SKIP no CUDA device" "$out"'
else
    echo "# no stub libcuda.so in the CUDA toolkit: the no-driver case is not checked"
fi
done_testing
