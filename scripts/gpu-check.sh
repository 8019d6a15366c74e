#!/usr/bin/env bash
# gpu-check: the one script to run on a machine with an NVIDIA GPU. Each check is
# independent, has its own time limit, logs to $OUT/logs/<check>.log and adds a PASS,
# FAIL, INFO or SKIP line to $OUT/summary.txt; a failure never stops the later checks.
#   1 build       make, unless the binaries are already there (--build forces it)
#   2 kernels     every CUDA kernel against its CPU reference (build/tests/gpu/kernels_cuda)
#   3 model       whole model GPU vs CPU: logits, loss, gradients, 10 steps, resume
#                 (a failing test binary runs again once per speed lever switched off,
#                 GPT2_CUDA_OFF=<lever>, and once with all off: which setting passes)
#   3a dist       data-parallel training of the CUDA model (build/tests/gpu/dist_nccl): NCCL
#                 in a world of one, ZeRO-1, stand-in collectives for 3 ranks; again
#                 under compute-sanitizer (memcheck) when it is there
#   3b cli        gpt2-eval and gpt2-sample with --device cuda against the CPU; the
#                 speed of gpt2-sample on CUDA with and without its key/value cache
#   4 train       300 steps of a 4-layer model with gpt2-train --device cuda on shards made
#                 by gpt2-shard: falling loss; --stop-at 150 + --resume gives the same
#                 losses; the GPU checkpoint continues on the CPU with the same loss;
#                 the runs with every lever off (GPT2_CUDA_OFF=all) and with the trial
#                 levers on (GPT2_CUDA_ON=all) follow the same losses
#   5 timing      GPT-2 124M, T=1024: B=16 and B=128, and B=64 with the default levers,
#                 each one off, each trial lever on, all trials on, all off (the
#                 before/after table); B=64 as one NCCL rank, with and without ZeRO-1;
#                 the bf16 GEMM ceiling
#   6 profile     per-kernel time of two steps at B=16 (nsys or ncu) -> $OUT/kernels.txt
#   7 pytorch     bench/gpu.sh: PyTorch GPT-2 of the same shape and the ratio ours/PyTorch
# usage: scripts/gpu-check.sh [--build] [--quick] [--only LIST]
#   --quick: skips 6 and 7; --only: a comma list of the checks to run (kernels, model, dist,
#   cli, train, timing, profile, pytorch), for a second run that repeats only what changed
# env: OUT (default ./gpu-check-out), GPU_CHECK_LEVERS (see below). Binaries may be built elsewhere (make, then
# scripts/gpu-carry.sh, which copies the shared libraries they need into build/libs/)
# and carried in with bin/ and build/.
# $OUT at the end: summary.txt, kernels.txt, logs.tar.gz (every log) and a copy of the log
# of each failed check (at most 5), so that the few files that come back are the ones
# that matter.
set -u
cd "$(dirname "$0")/.." || exit 1
root=$PWD
# libraries copied by scripts/gpu-carry.sh serve our programs; python gets the original path
orig_ld=${LD_LIBRARY_PATH-}
[ -d "$root/build/libs" ] && export LD_LIBRARY_PATH="$root/build/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
py() { env LD_LIBRARY_PATH="$orig_ld" python3 "$@"; }
force_build=0 quick=0 only=""
usage() { echo "usage: $0 [--build] [--quick] [--only LIST]" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
    --build) force_build=1 ;;
    --quick) quick=1 ;;
    --only) [ $# -ge 2 ] || usage; only=",$2,"; shift ;;
    *) usage ;;
    esac
    shift
done
# a misspelt check in --only must not quietly run nothing
for c in $(tr ',' ' ' <<<"$only"); do
    case $c in
    kernels | model | dist | cli | train | timing | profile | pytorch) ;;
    *) echo "$0: unknown check '$c' (kernels, model, dist, cli, train, timing, profile, pytorch)" >&2; exit 2 ;;
    esac
done
OUT=${OUT:-$root/gpu-check-out}
LOGS=$OUT/logs
rm -rf "$LOGS" "$OUT/logs.tar.gz"
mkdir -p "$LOGS"
summary=$OUT/summary.txt
: >"$summary"
work=$(mktemp -d) # training shards and checkpoints: bulky, never under $OUT
trap 'rm -rf "$work"' EXIT
# want CHECK: whether this run includes the check
want() {
    case $1 in profile | pytorch) [ $quick = 0 ] || return 1 ;; esac
    [ -z "$only" ] || [ "${only#*,"$1",}" != "$only" ]
}
t_start=$(date +%s)

result() { # STATUS NAME DETAIL
    printf '%-4s %-8s %s\n' "$1" "$2" "${3:-}" | tee -a "$summary"
}
# run NAME SECONDS CMD...: output to $LOGS/NAME.log, returns the command's status
run() {
    local name=$1 secs=$2
    shift 2
    echo "== $name: $*" >>"$LOGS/$name.log"
    local t0
    t0=$(date +%s)
    timeout --kill-after=10 "$secs" "$@" >>"$LOGS/$name.log" 2>&1
    local rc=$?
    echo "== $name: exit $rc after $(($(date +%s) - t0)) s" >>"$LOGS/$name.log"
    [ $rc = 124 ] && echo "== $name: TIMED OUT after $secs s" >>"$LOGS/$name.log"
    return $rc
}
# tap_check NAME SECONDS PROG [OFF]: a TAP program (with GPT2_CUDA_OFF=OFF) passes when it
# exits 0, ran tests, failed none and did not skip; returns 0 when it passed, 2 on a skip
tap_check() {
    local name=$1 secs=$2 prog=$3 off=${4-}
    if [ ! -x "$prog" ]; then result FAIL "$name" "$prog missing"; return 1; fi
    local log=$LOGS/$name.log
    : >"$log"
    if [ -n "$off" ]; then run "$name" "$secs" env GPT2_CUDA_OFF="$off" "$prog"; else run "$name" "$secs" "$prog"; fi
    local rc=$?
    local n_ok n_bad
    n_ok=$(grep -c '^ok ' "$log")
    n_bad=$(grep -c '^not ok ' "$log")
    if grep -q '^1\.\.0 # SKIP' "$log"; then
        result SKIP "$name" "$(grep -m1 '^1\.\.0' "$log")"
        return 2
    elif [ $rc = 0 ] && [ "$n_bad" = 0 ] && [ "$n_ok" -gt 0 ]; then
        result PASS "$name" "$n_ok assertions${off:+ with GPT2_CUDA_OFF=$off}"
    else
        result FAIL "$name" "${off:+GPT2_CUDA_OFF=$off: }exit $rc, $n_ok ok, $n_bad not ok: $(grep -m3 '^not ok' "$log" | tr '\n' ';')"
        return 1
    fi
}
# a failed test binary again, once per lever switched off and once with all off: the
# lines say which setting passes, so the default can be flipped without another run
lever_retry() { # NAME SECONDS PROG
    for lv in $levers all; do tap_check "$1-off-$lv" "$2" "$3" "$lv"; done
}

{
    date -u
    nvidia-smi || echo "nvidia-smi failed"
    command -v nvcc && nvcc --version
    uname -a
} >"$LOGS/env.log" 2>&1

# 1 build
need="bin/gpt2-train bin/gpt2-cuda.so bin/gpt2-shard build/tests/gpu/kernels_cuda build/tests/gpu/model_cuda build/tests/gpu/dist_nccl build/bench/gpu_step"
missing=0
for f in $need; do [ -x "$f" ] || missing=1; done
if [ $force_build = 1 ] || [ $missing = 1 ]; then
    if run build 300 make -j"$(nproc)" all; then result PASS build "make all"; else result FAIL build "see build.log"; fi
else
    result PASS build "prebuilt binaries used (--build to rebuild)"
fi
for f in $need; do
    [ -x "$f" ] && ldd "$f" 2>/dev/null | grep 'not found' | sed "s|^|$f: |"
done >"$LOGS/ldd.log"
[ -s "$LOGS/ldd.log" ] && result FAIL libs "missing shared libraries: $(sort -u "$LOGS/ldd.log" | tr '\n' ';')"

# the speed levers of common/model/cuda_common.cu (gpt2-cuda(7)), as the build has them;
# GPU_CHECK_LEVERS narrows the retries and the timings to some of them
lever_names() { build/bench/gpu_step --levers | awk -v want="${1-}" 'want == "" || $2 == want { printf "%s%s", sep, $1; sep = " " }'; }
levers=${GPU_CHECK_LEVERS:-$(lever_names)}
trials=$(lever_names trial)
result INFO levers "${levers:-none}${trials:+ (trials, off by default: $trials)}"

# 2, 3 correctness
for t in kernels model; do
    want $t || continue
    tap_check $t 240 build/tests/gpu/${t}_cuda
    [ $? = 1 ] && lever_retry $t 240 build/tests/gpu/${t}_cuda
done

# 3a data parallelism on the one GPU, plain and under compute-sanitizer
if want dist; then
    tap_check dist 240 build/tests/gpu/dist_nccl
    if command -v compute-sanitizer >/dev/null 2>&1; then
        printf '#!/bin/sh\nexec compute-sanitizer --tool memcheck --error-exitcode 3 "%s"\n' \
            "$root/build/tests/gpu/dist_nccl" >"$work/dist-memcheck"
        chmod +x "$work/dist-memcheck"
        tap_check dist-memcheck 480 "$work/dist-memcheck"
    else
        result SKIP dist-memcheck "no compute-sanitizer (PATH, \$CUDA_HOME)"
    fi
fi

# 3b gpt2-eval and gpt2-sample on CUDA against the CPU (their TAP scripts; they need
# /usr/bin/python3 with torch and numpy)
if want cli; then
    export TESTBIN=$root/build/tests
    # their python gets the original library path, as py() does
    printf '#!/bin/sh\nLD_LIBRARY_PATH="%s" exec python3 "$@"\n' "$orig_ld" >"$work/python3"
    chmod +x "$work/python3"
    export PYTHON=$work/python3
    for t in eval-cuda sample-cuda; do tap_check "cli-$t" 240 "tests/cli/$t.sh"; done
    # sampling speed on the GPU, with the key/value cache and without
    if run cli-sample-speed 180 env DEVICE=cuda BIN="$root/bin" bash bench/sample.sh; then
        result INFO cli "gpt2-sample --device cuda, d12, tokens/s (threads, cache, no cache, ratio): $(grep -E '^[0-9]+ ' "$LOGS/cli-sample-speed.log" | tail -1 | tr -s ' ')"
    else
        result FAIL cli "gpt2-sample speed on CUDA (see cli-sample-speed.log)"
    fi
fi

# 4 training runs on shards made by our tools (GPU_CHECK_DEVICE, _STEPS, _SEQ: for a dry
# run of the script on a CPU)
train_check() {
    local d=$work/train dev=${GPU_CHECK_DEVICE:-cuda} steps=${GPU_CHECK_STEPS:-300}
    local seq=${GPU_CHECK_SEQ:-256} half=$((${GPU_CHECK_STEPS:-300} / 2))
    rm -rf "$d" && mkdir -p "$d"
    # a learnable synthetic stream: 64 "words" of 2-6 tokens, picked by a fixed Markov
    # chain, uint16 little-endian (gpt2-tokenize's output format)
    py - "$d/tokens.bin" <<'PY' || return 1
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
    # the uninterrupted run again with every speed lever off, and with the trial ones on
    (export GPT2_CUDA_OFF=all; train_run "$dev" "$d/off") || true
    [ -z "$trials" ] || (export GPT2_CUDA_ON=all; train_run "$dev" "$d/trials") || true
    py - "$d" "$steps" "$trials" <<'PY' >>"$LOGS/train.log" 2>&1
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
for key, sub, what in [("OFF", "off", "GPT2_CUDA_OFF=all (every speed lever off)"),
                       ("TRIALS", "trials", "GPT2_CUDA_ON=all (the trial levers on: %s)" % sys.argv[3].strip())]:
    if key == "TRIALS" and not sys.argv[3].strip():
        print("TRIALS ok no trial levers to run")
        continue
    try:
        other = losses(d + "/" + sub + "/log.jsonl")
        dd = max(abs(other[s] - full[s]) for s in range(1, steps + 1))
        print("%s %s %s run: step %d loss %.4f vs %.4f, max |loss diff| %.3g" % (key, "ok" if dd < 0.1 else "BAD", what, steps, other[steps], full[steps], dd))
    except Exception as e:
        print("%s BAD no %s run: %r" % (key, what, e))
PY
}
if ! want train; then
    :
elif train_check; then
    for k in FALL RESUME CPU OFF TRIALS; do
        line=$(grep -m1 "^$k " "$LOGS/train.log")
        case $line in
        "$k ok"*) result PASS "train" "${line#"$k ok "}" ;;
        *) result FAIL "train" "${line:-$k: no result (see train.log)}" ;;
        esac
    done
else
    result FAIL train "a run failed (see train.log)"
fi

# 5 timing of GPT-2 124M: B=16 (as profiled), then B=64 with the default levers, each
# one switched the other way (default ones off, trial ones on), all trials on, all off;
# ENV is GPT2_CUDA_OFF=... or GPT2_CUDA_ON=... ("" = the defaults)
timing() { # B ENV
    local label="B=$1 ${2:-default levers}"
    if run timing 150 env ${2:+"$2"} build/bench/gpu_step -b "$1" -t 1024 -n 10 -w 3; then
        result INFO timing "$label: $(grep "^step .* B=$1 " "$LOGS/timing.log" | tail -1 | sed 's/^step [^:]*: //')"
    else
        result FAIL timing "$label (see timing.log; B=64 needs ~30 GB)"
    fi
}
if want timing; then
    timing 16 ""
    timing 64 ""
    timing 128 "" # the largest micro-batch that fits 80 GB
    for lv in $levers; do
        case " $trials " in
        *" $lv "*) timing 64 "GPT2_CUDA_ON=$lv" ;;
        *) timing 64 "GPT2_CUDA_OFF=$lv" ;;
        esac
    done
    [ -z "$trials" ] || timing 64 "GPT2_CUDA_ON=all"
    timing 64 "GPT2_CUDA_OFF=all"
    # what the data-parallel path adds to a step in an NCCL world of one (the reductions
    # are no-ops there; the slices, events and the sharded update are not)
    for z in 0 1; do
        if run timing 150 build/bench/gpu_step -b 64 -t 1024 -n 10 -w 3 --dist $z; then
            result INFO timing "B=64 as one NCCL rank, --zero $z: $(grep "^step .* dist-zero$z B=64 " "$LOGS/timing.log" | tail -1 | sed 's/^step [^:]*: //')"
        else
            result FAIL timing "B=64 --dist $z (see timing.log)"
        fi
    done
    if run timing 60 build/bench/gpu_step --gemm -s 8192 -n 20; then
        result INFO timing "$(grep '^gemm' "$LOGS/timing.log" | tail -1)"
    else
        result FAIL timing "gemm (see timing.log)"
    fi
fi

# 6 per-kernel breakdown
if want profile; then
    if command -v nsys >/dev/null 2>&1; then
        if run profile 150 nsys profile -o "$LOGS/step" --force-overwrite true -t cuda --stats=false \
            build/bench/gpu_step -b 16 -t 1024 -n 5 -w 2 &&
            run profile 60 nsys stats -r cuda_gpu_kern_sum -f csv -o "$LOGS/kernels" "$LOGS/step.nsys-rep"; then
            cp "$LOGS"/kernels*.csv "$OUT/kernels.txt" 2>/dev/null
            rm -f "$LOGS/step.nsys-rep"
            result INFO profile "per-kernel times in kernels.txt"
        else
            result FAIL profile "see profile.log"
        fi
    elif command -v ncu >/dev/null 2>&1; then
        # one warm-up and one timed step, kernel durations only (one replay pass each)
        if run profile 240 ncu --clock-control none --metrics gpu__time_duration.sum --csv \
            --log-file "$LOGS/ncu.csv" build/bench/gpu_step -b 16 -t 1024 -n 1 -w 1; then
            py - "$LOGS/ncu.csv" >"$OUT/kernels.txt" 2>>"$LOGS/profile.log" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if len(r) > 5]
h0 = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
head, rows = rows[h0], rows[h0:]
name_i, val_i, unit_i = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
to_ns = {"nsecond": 1, "ns": 1, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6, "second": 1e9}
tot = collections.Counter()
cnt = collections.Counter()
for r in rows[1:]:
    try:
        v = float(r[val_i].replace(",", "")) * to_ns[r[unit_i]]
    except (ValueError, KeyError):
        continue
    k = r[name_i].split("(")[0][:60]
    tot[k] += v
    cnt[k] += 1
all_ns = sum(tot.values())
print("kernel time over 2 steps (B=16, T=1024): %.2f ms" % (all_ns / 1e6))
for k, v in tot.most_common(25):
    print("%6.1f%% %9.3f ms %5d  %s" % (100 * v / all_ns, v / 1e6, cnt[k], k))
PY
            result INFO profile "per-kernel times in kernels.txt"
        else
            result FAIL profile "see profile.log"
        fi
    else
        result SKIP profile "neither nsys nor ncu installed"
    fi
fi
# 7 PyTorch baseline and ratio
if want pytorch; then
    if run pytorch 300 env LD_LIBRARY_PATH="$orig_ld" GPU_BENCH_B=64 GPU_BENCH_STEPS=10 \
        BUILD="$root/build" bash bench/gpu.sh; then
        result INFO pytorch "$(grep -E '^(torch|ratio)' "$LOGS/pytorch.log" | tr '\n' ' ')"
    else
        result FAIL pytorch "see pytorch.log"
    fi
fi

echo "total $(($(date +%s) - t_start)) s" | tee -a "$summary"
# the logs of failed checks beside the summary (the first 5), every log in one archive
grep '^FAIL' "$summary" | awk '{print $2}' | sort -u | head -5 | while read -r name; do
    [ -f "$LOGS/$name.log" ] && cp "$LOGS/$name.log" "$OUT/$name.log"
done
tar -czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$LOGS"
grep -q '^FAIL' "$summary" && exit 1
exit 0
