#!/usr/bin/env bash
# gpt2-sample --device cuda, with the key/value cache (the backend's decode) and without
# (its forward over the context per token): greedy ids equal the PyTorch reference's, as
# on the CPU (tests/cli/sample-greedy.sh); and past the context window the two agree.
. "$(dirname "$0")/../lib.sh"
"$TESTBIN/helpers/sample_model" "$T/probe.bin" 1 1 64 16 || exit 1
run gpt2-sample -m "$T/probe.bin" -p hi -n 1 --device cuda
if ! exits 0; then
    # only a missing device or a build without CUDA skips; a broken setup ("CUDA is
    # installed but unusable") fails below
    grep -qE "no CUDA device|without CUDA" "$err" && skip_all "no CUDA device"
    ok "a one-token prompt on CUDA: exit 0 (stderr: $(head -c 300 "$err"))" false
fi
need_python torch numpy

N=60
run "$PY" "$TOP/tests/ref/sample_greedy.py" "$T" $N
ok "PyTorch reference decodes $N tokens" exits 0
for model in model.bin model.safetensors; do
    for cache in "" --no-cache; do
        run gpt2-sample -m "$T/$model" --device cuda $cache --tokens --format text -t 0 -n $N \
            "$T/prompt.txt"
        ok "$model on CUDA ${cache:-with the cache}: greedy ids equal the reference" \
            cmp -s "$out" "$T/expected.txt"
    done
done
# a 64-token window, 150 tokens: the window restarts from its last half twice. Sampled,
# not greedy: near-ties of a random model's top logits would make argmax fragile, while a
# sampled token changes only if the draw falls within rounding of a boundary.
"$TESTBIN/helpers/sample_model" "$T/tiny.bin" 2 2 128 64 5 || exit 1
echo 50256 >"$T/eot.txt"
for cache in "" --no-cache; do
    run gpt2-sample -m "$T/tiny.bin" --device cuda $cache --tokens --format text -s 7 \
        --ignore-eot -n 150 "$T/eot.txt"
    ok "tiny model on CUDA ${cache:-with the cache}: 150 tokens" \
        eval 'exits 0 && [ "$(wc -l <"$out")" -eq 150 ]'
    cp "$out" "$T/ids$cache.txt"
done
ok "past the window: the same sampled ids with and without the cache" \
    cmp -s "$T/ids.txt" "$T/ids--no-cache.txt"
done_testing
