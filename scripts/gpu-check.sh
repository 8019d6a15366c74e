#!/usr/bin/env bash
# gpu-check: the one script to run on a machine with an NVIDIA GPU. Each check is
# independent, has its own time limit, logs to $OUT/<check>.log and adds a PASS, FAIL or
# SKIP line to $OUT/summary.txt; a failure never stops the later checks.
#   1 build       make, unless the binaries are already there (--build forces it)
#   2 kernels     every CUDA kernel against its CPU reference (build/tests/gpu/kernels_cuda)
#   3 model       whole model GPU vs CPU: logits, loss, gradients, 10 steps, resume
#   4 train       300 steps of a 4-layer model with gpt2-train --device cuda on shards made
#                 by gpt2-shard: falling loss; --stop-at 150 + --resume gives the same
#                 losses; the GPU checkpoint continues on the CPU with the same loss
#   5 timing      GPT-2 124M, T=1024, B=16/32/64: tokens/s, MFU, memory; bf16 GEMM ceiling
#   6 profile     per-kernel time of a few steps (nsys, when installed)
#   7 pytorch     bench/gpu.sh: PyTorch GPT-2 of the same shape and the ratio ours/PyTorch
# usage: scripts/gpu-check.sh [--build] [--quick]   (--quick: skips 6 and 7)
# env: OUT (default ./gpu-check-out); binaries may be prebuilt elsewhere and copied in:
# bin/gpt2-train bin/gpt2-shard build/tests/gpu/* build/bench/gpu_step; shared libraries
# they need that the machine lacks can be put in build/libs/.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$PWD
OUT=${OUT:-$root/gpu-check-out}
mkdir -p "$OUT"
summary=$OUT/summary.txt
: >"$summary"
[ -d "$root/build/libs" ] && export LD_LIBRARY_PATH="$root/build/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
force_build=0 quick=0
for a in "$@"; do
    case $a in
    --build) force_build=1 ;;
    --quick) quick=1 ;;
    *) echo "usage: $0 [--build] [--quick]" >&2; exit 2 ;;
    esac
done
t_start=$(date +%s)

result() { # STATUS NAME DETAIL
    printf '%-4s %-8s %s\n' "$1" "$2" "${3:-}" | tee -a "$summary"
}
# run NAME SECONDS CMD...: output to $OUT/NAME.log, returns the command's status
run() {
    local name=$1 secs=$2
    shift 2
    echo "== $name: $*" >>"$OUT/$name.log"
    local t0
    t0=$(date +%s)
    timeout --kill-after=10 "$secs" "$@" >>"$OUT/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc after $(($(date +%s) - t0)) s" >>"$OUT/$name.log"
    [ $rc = 124 ] && echo "== $name: TIMED OUT after $secs s" >>"$OUT/$name.log"
    return $rc
}
# a TAP program passes when it exits 0, ran tests, failed none and did not skip
tap_check() {
    local name=$1 prog=$2 secs=$3
    if [ ! -x "$prog" ]; then result FAIL "$name" "$prog missing"; return; fi
    run "$name" "$secs" "$prog"
    local rc=$? log=$OUT/$name.log
    local n_ok n_bad
    n_ok=$(grep -c '^ok ' "$log")
    n_bad=$(grep -c '^not ok ' "$log")
    if grep -q '^1\.\.0 # SKIP' "$log"; then
        result SKIP "$name" "$(grep -m1 '^1\.\.0' "$log")"
    elif [ $rc = 0 ] && [ "$n_bad" = 0 ] && [ "$n_ok" -gt 0 ]; then
        result PASS "$name" "$n_ok assertions"
    else
        result FAIL "$name" "exit $rc, $n_ok ok, $n_bad not ok: $(grep -m3 '^not ok' "$log" | tr '\n' ';')"
    fi
}

{
    date -u
    nvidia-smi || echo "nvidia-smi failed"
    command -v nvcc && nvcc --version
    uname -a
} >"$OUT/env.log" 2>&1

# 1 build
need="bin/gpt2-train bin/gpt2-shard build/tests/gpu/kernels_cuda build/tests/gpu/model_cuda build/bench/gpu_step"
missing=0
for f in $need; do [ -x "$f" ] || missing=1; done
if [ $force_build = 1 ] || [ $missing = 1 ]; then
    if run build 300 make -j"$(nproc)" all; then result PASS build "make all"; else result FAIL build "see build.log"; fi
else
    result PASS build "prebuilt binaries used (--build to rebuild)"
fi
for f in $need; do
    [ -x "$f" ] && ldd "$f" 2>/dev/null | grep 'not found' | sed "s|^|$f: |"
done >"$OUT/ldd.log"
[ -s "$OUT/ldd.log" ] && result FAIL libs "missing shared libraries: $(sort -u "$OUT/ldd.log" | tr '\n' ';')"

# 2, 3 correctness
tap_check kernels build/tests/gpu/kernels_cuda 120
tap_check model build/tests/gpu/model_cuda 240

# 4 training runs on shards made by our tools (GPU_CHECK_DEVICE, _STEPS, _SEQ: for a dry
# run of the script on a CPU)
train_check() {
    local d=$OUT/train dev=${GPU_CHECK_DEVICE:-cuda} steps=${GPU_CHECK_STEPS:-300}
    local seq=${GPU_CHECK_SEQ:-256} half=$((${GPU_CHECK_STEPS:-300} / 2))
    rm -rf "$d" && mkdir -p "$d"
    # a learnable synthetic stream: 64 "words" of 2-6 tokens, picked by a fixed Markov
    # chain, uint16 little-endian (gpt2-tokenize's output format)
    python3 - "$d/tokens.bin" <<'PY' || return 1
import random, struct, sys
rng = random.Random(7)
words = [[rng.randrange(50000) for _ in range(rng.randrange(2, 7))] for _ in range(64)]
nxt = [[rng.randrange(64) for _ in range(3)] for _ in range(64)]
toks, w = [], 0
while len(toks) < 1_500_000:
    toks.append(50256) if rng.random() < 0.01 else None
    toks.extend(words[w])
    w = rng.choice(nxt[w])
open(sys.argv[1], "wb").write(struct.pack("<%dH" % len(toks), *toks))
PY
    run train 30 bin/gpt2-shard -o "$d/syn" --val-tokens 65536 -s 1M "$d/tokens.bin" || return 1
    # train_run DEVICE OUTDIR [OPTION...]
    train_run() {
        local dev=$1 dir=$2
        shift 2
        run train 180 bin/gpt2-train -i "$d/syn_train_*.bin" -j "$d/syn_val_*.bin" -e 4:4:256 \
            -b 16 -t "$seq" -d $((32 * seq)) -x "$steps" -u 20 -l 1e-3 -v 100 -m 4 -n 0 \
            --device "$dev" --no-progress -o "$dir" "$@"
    }
    train_run "$dev" "$d/full" || return 1
    train_run "$dev" "$d/split" --stop-at "$half" || return 1
    cp -r "$d/split" "$d/oncpu"
    train_run "$dev" "$d/split" -r || return 1
    # the GPU checkpoint of step half, one more step on the CPU
    train_run cpu "$d/oncpu" -r --stop-at $((half + 1)) || true
    python3 - "$d" "$steps" <<'PY' >>"$OUT/train.log" 2>&1
import json, sys
d, steps = sys.argv[1], int(sys.argv[2])
half = steps // 2
def losses(path, kind="train"):
    out = {}
    for line in open(path):
        r = json.loads(line)
        if r.get("type") == kind:
            out[r["step"]] = r["loss"]
    return out
full, split = losses(d + "/full/log.jsonl"), losses(d + "/split/log.jsonl")
val = losses(d + "/full/log.jsonl", "val")
print("full run: step 1 loss %.4f, step %d loss %.4f; val %s" % (full[1], steps, full[steps], val))
w = min(10, half)
first = sum(full[s] for s in range(1, w + 1)) / w
last = sum(full[s] for s in range(steps - w + 1, steps + 1)) / w
ok_fall = last < first - 2.0 and all(v == v for v in full.values())
print("FALL %s mean loss of the first %d steps %.4f, of the last %.4f" % ("ok" if ok_fall else "BAD", w, first, last))
diff = max(abs(full[s] - split[s]) for s in range(half + 1, steps + 1))
print("RESUME %s max |loss diff| steps %d-%d, resumed at %d vs uninterrupted: %.3g" % ("ok" if diff < 0.02 else "BAD", half + 1, steps, half, diff))
try:
    cpu = losses(d + "/oncpu/log.jsonl")[half + 1]
    dcpu = abs(cpu - full[half + 1])
    print("CPU %s step %d from the step-%d checkpoint on the CPU: %.4f vs %.4f (diff %.3g)" % ("ok" if dcpu < 0.05 else "BAD", half + 1, half, cpu, full[half + 1], dcpu))
except Exception as e:
    print("CPU BAD no CPU continuation: %r" % e)
PY
}
if train_check; then
    for k in FALL RESUME CPU; do
        line=$(grep -m1 "^$k " "$OUT/train.log")
        case $line in
        "$k ok"*) result PASS "train" "${line#"$k ok "}" ;;
        *) result FAIL "train" "${line:-$k: no result (see train.log)}" ;;
        esac
    done
else
    result FAIL train "a run failed (see train.log)"
fi

# 5 timing of GPT-2 124M
for b in 16 32 64; do
    if run timing 150 build/bench/gpu_step -b $b -t 1024 -n 10 -w 3; then
        result INFO timing "$(grep "^step .* B=$b " "$OUT/timing.log" | tail -1)"
    else
        result FAIL timing "B=$b (see timing.log; B=64 needs ~30 GB)"
    fi
done
if run timing 60 build/bench/gpu_step --gemm -s 8192 -n 20; then
    result INFO timing "$(grep '^gemm' "$OUT/timing.log" | tail -1)"
else
    result FAIL timing "gemm (see timing.log)"
fi

if [ $quick = 0 ]; then
    # 6 per-kernel breakdown
    if command -v nsys >/dev/null 2>&1; then
        if run profile 150 nsys profile -o "$OUT/step" --force-overwrite true -t cuda --stats=false \
            build/bench/gpu_step -b 16 -t 1024 -n 5 -w 2 &&
            run profile 60 nsys stats -r cuda_gpu_kern_sum -f csv -o "$OUT/kernels" "$OUT/step.nsys-rep"; then
            result INFO profile "per-kernel times in $OUT/kernels*.csv"
        else
            result FAIL profile "see profile.log"
        fi
    else
        result SKIP profile "nsys not installed"
    fi
    # 7 PyTorch baseline and ratio
    if run pytorch 300 env GPU_BENCH_B=64 GPU_BENCH_STEPS=10 BUILD="$root/build" bash bench/gpu.sh; then
        result INFO pytorch "$(grep -E '^(torch|ratio)' "$OUT/pytorch.log" | tr '\n' ' ')"
    else
        result FAIL pytorch "see pytorch.log"
    fi
fi

echo "total $(($(date +%s) - t_start)) s" | tee -a "$summary"
grep -q '^FAIL' "$summary" && exit 1
exit 0
