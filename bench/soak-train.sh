#!/usr/bin/env bash
# Opt-in soak of gpt2-train (issue 18): a small run driven to its end through random
# SIGKILLs, windows of a file size limit (writes fail with EFBIG, as on a full disk) and
# injected NaN batches (GPT2_TEST_NAN_STEPS, tests/README.md). After every fault the newest
# complete checkpoint must be no older than before and must load; at the end the log may
# hold no torn line and its loss curve (last line of each step, as gpt2-train(1) says a
# resumed run's lines supersede) must equal that of an uninterrupted run with the same
# NaN batches, bit for bit. Prints the counts; exits 1 on any difference.
#   env: SOAK_ROUNDS (faults to inject at most; unset or 0: SKIP), SOAK_STEPS (default
#        20000), SOAK_NAN_STEPS (default 37,1500,1501,2900), SOAK_SEED (default 1)
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$TOP/bin}
ROUNDS=${SOAK_ROUNDS:-0}
if [ "$ROUNDS" -le 0 ]; then
    echo "soak-train: SKIP (opt-in: SOAK_ROUNDS=60 bench/soak-train.sh)"
    exit 0
fi
STEPS=${SOAK_STEPS:-20000}
export GPT2_TEST_NAN_STEPS=${SOAK_NAN_STEPS:-37,1500,1501,2900}
RANDOM=${SOAK_SEED:-1}
T=$(mktemp -d "${TMPDIR:-/tmp}/gpt2-soak.XXXXXX")
trap 'rm -rf "$T"' EXIT

python3 -c '
import struct, sys
x, t = 11, []
for i in range(40000):
    x = (x * 1103515245 + 12345) % 2**31
    t.append((x >> 16) % 256)
with open(sys.argv[1] + "/s_train_000001.bin", "wb") as f:
    f.write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253))
    f.write(struct.pack(f"<{len(t)}H", *t))' "$T"
train() { "$BIN/gpt2-train" -i "$T/s_train_*.bin" -e 1:2:16 --vocab 256 --max-seq-len 16 -b 2 \
    -t 16 -d 32 -u 2 -l 3e-3 --threads 1 -x "$STEPS" -n 10 -k 2 "$@"; }
newest() { local d; d=$(ls "$1" 2>/dev/null | grep -E '^DONE_[0-9]+$' | tail -1); d=${d#DONE_}; echo $((10#${d:-0})); }
# step -> loss, lr, grad norm, skipped of the lines that stand; "torn N" for lines that
# are not JSON
curve() {
    python3 -c '
import json, sys
stand, torn = {}, 0
for line in open(sys.argv[1]):
    try:
        o = json.loads(line)
    except ValueError:
        torn += 1
        continue
    if o["type"] == "start":
        stand = {s: v for s, v in stand.items() if s <= o["step"]}
    elif o["type"] == "train":
        stand[o["step"]] = (o["loss"], o["lr"], o["grad_norm"], o.get("skipped"))
for s in sorted(stand):
    print(s, *stand[s])
print("torn", torn)' "$1"
}

train -o "$T/ref" 2>/dev/null
curve "$T/ref/log.jsonl" >"$T/ref.curve"

kills=0 limits=0 resumed=0 verified=0 lost=0 before=0
for ((i = 1; i <= ROUNDS; i++)); do
    [ -e "$T/run/DONE_$(printf %08d "$STEPS")" ] && break
    args=()
    if ls "$T/run" 2>/dev/null | grep -qE '^DONE_[0-9]+$'; then args=(--resume) resumed=$((resumed + 1)); fi
    if ((i % 5 == 0)); then
        # a window with a file size limit: 4 KiB more log (a log line fails), or 48 KiB,
        # which no state file (~70 KB) fits (while the log is smaller: early in the run)
        lim=48
        if ((i % 10 == 5)) && [ -e "$T/run/log.jsonl" ]; then
            lim=$(($(stat -c %s "$T/run/log.jsonl") / 1024 + 4))
        fi
        (ulimit -f "$lim" && train -o "$T/run" "${args[@]}") 2>/dev/null || true
        limits=$((limits + 1))
    else
        train -o "$T/run" "${args[@]}" 2>/dev/null &
        pid=$!
        sleep "0.$(printf %02d $((RANDOM % 50 + 1)))"
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        kills=$((kills + 1))
    fi
    now=$(newest "$T/run")
    if ((now < before)); then lost=$((lost + 1)); fi
    if ((now > 0)); then
        # the newest complete checkpoint loads (model and state): nothing to train up to it
        if train -o "$T/run" --resume -x "$now" 2>&1 | grep -q "nothing to train"; then
            verified=$((verified + 1))
        else
            lost=$((lost + 1))
        fi
    fi
    before=$now
done
train -o "$T/run" --resume 2>/dev/null || train -o "$T/run" 2>/dev/null
curve "$T/run/log.jsonl" >"$T/run.curve"
diffs=$(diff "$T/ref.curve" "$T/run.curve" | grep -c '^[<>]' || true)
torn=$(sed -n 's/^torn //p' "$T/run.curve")
nans=$(tr -cd , <<<"$GPT2_TEST_NAN_STEPS" | wc -c)
echo "soak-train: $STEPS steps; faults injected: $kills SIGKILL, $limits file size limit windows," \
    "$((nans + 1)) NaN batches; runs resumed: $resumed; checkpoints verified: $verified;" \
    "checkpoints lost: $lost; torn log lines: $torn; loss-curve differences: $diffs"
[ "$lost" = 0 ] && [ "$diffs" = 0 ] && [ "$torn" = 0 ]
