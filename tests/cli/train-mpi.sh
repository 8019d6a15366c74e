#!/usr/bin/env bash
# Data-parallel gpt2-train under OpenMPI on the CPU: 2 and 4 ranks follow one process with
# the same tokens per step (losses, grad norms, weights within a tolerance: the ranks sum
# their gradients in another order), with and without shuffling; ZeRO-1 equals no
# sharding bit for bit; a stopped run resumes on 2 ranks exactly and on 1 or 4 ranks with
# equal losses; a rank killed mid-step ends the job, the last checkpoint resumable.
. "$(dirname "$0")/../lib.sh"
# LeakSanitizer reports what OpenMPI and its plugins never free at MPI_Finalize (dlopened
# modules, so no suppression can name them); memory errors are still checked, and our own
# leaks are caught by the single-process runs of the other tests
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

command -v mpirun >/dev/null || skip_ref "no mpirun (openmpi-bin)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none # containers forbid ptrace-based copies
need_python json

for i in $(seq 300); do echo "The cat $i sat on the mat, and the dog ran by the barn."; done |
    gpt2-tokenize | gpt2-shard -o "$T/d/s" --val-tokens 1024 2>/dev/null
train() { # train NRANKS OUT ARGS...: 1 = a plain process, no mpirun
    local n=$1 dir=$2
    shift 2
    local cmd=(gpt2-train -i "$T/d/s_train_*.bin" -j "$T/d/s_val_*.bin" -o "$T/$dir"
        -e 1:2:16 --max-seq-len 16 -t 16 -b 2 -d 256 -u 2 -l 1e-2 -v 2 -m 5 -n 2
        --device cpu --no-progress "$@")
    if [ "$n" = 1 ]; then "${cmd[@]}"; else mpirun --oversubscribe -np "$n" "${cmd[@]}"; fi
}

run train 2 probe -x 0
stderr_has "built without MPI" && skip_ref "gpt2-train built without MPI (libopenmpi-dev)"
ok "2 ranks start (rank 0 alone writes the log)" eval 'exits 0 && [ "$(grep -c start "$T/probe/log.jsonl")" -eq 1 ]'

# same: the train and val lines of two logs agree to a relative 1e-5 (the weights drift
# apart by a few 1e-6 in these steps: float sums in another order), and so do the weights
same() {
    "$PY" - "$T/$1" "$T/$2" <<'PY'
import json, struct, sys
def lines(d):
    return [(l["type"], l["step"], l["loss"], l.get("grad_norm")) for l in map(json.loads, open(d + "/log.jsonl"))
            if l["type"] in ("train", "val")]
def close(a, b):
    return a == b or abs(a - b) <= 1e-5 * max(abs(a), abs(b))
a, b = lines(sys.argv[1]), lines(sys.argv[2])
assert len(a) == len(b) and a, (len(a), len(b))
for x, y in zip(a, b):
    assert x[:2] == y[:2] and close(x[2], y[2]) and (x[3] is None or close(x[3], y[3])), (x, y)
def weights(d):
    raw = open(d + "/model_00000004.bin", "rb").read()[1024:]
    return struct.unpack("<%df" % (len(raw) // 4), raw)
worst = max(abs(p - q) for p, q in zip(weights(sys.argv[1]), weights(sys.argv[2])))
assert worst <= 2e-5, worst
PY
}
for order in shuffled file; do
    flag=
    [ $order = file ] && flag=--no-shuffle
    train 1 one-$order -x 4 $flag 2>/dev/null
    for n in 2 4; do
        run train $n r$n-$order -x 4 $flag
        ok "$n ranks, $order order: ran" exits 0
        ok "... same losses, grad norms and weights as one process" same one-$order r$n-$order
    done
done
ok "ZeRO-1 reports the memory it saves" stderr_has "ZeRO-1: AdamW moments of .* MiB per rank instead of"
for n in 2 4; do
    train $n z$n -x 4 --zero 0 2>/dev/null
    ok "$n ranks: ZeRO-1 equals no sharding, bit for bit" \
        eval 'cmp -s "$T/z$n/model_00000004.bin" "$T/r$n-shuffled/model_00000004.bin" &&
              cmp -s "$T/z$n/state_00000004.bin" "$T/r$n-shuffled/state_00000004.bin"'
done

# a NaN batch at step 3 (each rank's first micro-batch): skipped by every rank, the
# ZeRO-1 shards and the unsharded update alike, as by one process
GPT2_TEST_NAN_STEPS=3 train 1 nan1 -x 4 2>/dev/null
for zero in 0 1; do
    GPT2_TEST_NAN_STEPS=3 run train 2 nan-z$zero -x 4 --zero $zero
    ok "2 ranks, --zero $zero: a NaN step is skipped and the run goes on" \
        eval 'exits 0 && grep -q "\"step\":3,.*\"skipped\":\"non-finite\"" "$T/nan-z$zero/log.jsonl"'
    ok "... and ends as one process that skipped it" same nan1 nan-z$zero
done

# resume: stopped at step 2 on 2 ranks, continued on 2 (exact), 1 and 4 (equal losses)
train 2 part -x 4 --stop-at 2 2>/dev/null
for n in 1 2 4; do
    rm -rf "$T/res$n" && cp -r "$T/part" "$T/res$n"
    run train $n res$n -x 4 --resume
    ok "resumed on $n rank(s) from a 2-rank checkpoint: ran" exits 0
    ok "... continues as the uninterrupted run" same res$n r2-shuffled
done
ok "resumed on 2 ranks: the same weights and state bit for bit" \
    eval 'cmp -s "$T/res2/model_00000004.bin" "$T/r2-shuffled/model_00000004.bin" &&
          cmp -s "$T/res2/state_00000004.bin" "$T/r2-shuffled/state_00000004.bin"'

# signals and faults: a run of many steps in the background, rank RANK of its mpirun sent
# SIG once the log holds 3 train lines; status in rc, stderr in $err
args=(-i "$T/d/s_train_*.bin" -e 1:2:16 --max-seq-len 16 -t 16 -b 2 -d 128 -u 2
    -l 1e-2 -x 100000 --device cpu --no-progress)
rank_pid() { # rank_pid MPIRUN_PID RANK
    local p
    for p in $(pgrep -P "$1"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && echo "$p"
    done
}
signalled_run() { # signalled_run DIR SIG RANK ARGS...
    local dir=$1 sig=$2 r=$3 pid
    shift 3
    timeout 300 mpirun --oversubscribe -np 2 gpt2-train "${args[@]}" -o "$T/$dir" "$@" 2>"$err" &
    pid=$!
    wait_for eval '[ "$(grep -sc "\"train\"" "$T/$dir/log.jsonl")" -ge 3 ] 2>/dev/null'
    kill -"$sig" "$(rank_pid "$(pgrep -P $pid -x mpirun)" "$r")"
    rc=0
    wait $pid || rc=$?
}
signalled_run term TERM 1 -n 0
k=$(ls "$T/term" | sed -n 's/^DONE_0*\([0-9][0-9]*\)$/\1/p')
ok "SIGTERM to one rank: every rank stops, exit 143" eval 'exits 143 && stderr_has "stopped by signal 15"'
ok "... with one checkpoint, at the step reached ($k)" eval '[ "$(ls "$T/term" | grep -c DONE_)" -eq 1 ]'
k=${k:-1}
mpirun --oversubscribe -np 2 gpt2-train "${args[@]}" -o "$T/term" -n 0 --resume --stop-at $((k + 2)) 2>/dev/null
mpirun --oversubscribe -np 2 gpt2-train "${args[@]}" -o "$T/unint" -n 0 --stop-at $((k + 2)) 2>/dev/null
ok "... resumed on 2 ranks, equal to an uninterrupted run bit for bit" \
    cmp -s "$T/term/model_$(printf %08d $((k + 2))).bin" "$T/unint/model_$(printf %08d $((k + 2))).bin"

signalled_run killed KILL 1 -n 1 --dp-timeout 20
ok "a rank SIGKILLed mid-run: the job fails, mpirun naming the rank" \
    eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && stderr_has "rank 1 .* exited on signal 9"'
latest=$(ls "$T/killed" | sed -n 's/^DONE_0*\([0-9][0-9]*\)$/\1/p' | tail -n 1)
run mpirun --oversubscribe -np 2 gpt2-train "${args[@]}" -o "$T/killed" --resume --stop-at $((latest + 1))
ok "... its newest complete checkpoint ($latest) resumes" eval 'exits 0 && [ -e "$T/killed/DONE_$(printf %08d $((latest + 1)))" ]'

signalled_run hung STOP 1 -n 0 --dp-timeout 3
ok "a rank that hangs (SIGSTOP): the others give up after --dp-timeout, saying so" \
    eval '[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && stderr_has "no answer from the other ranks for 3 s"'

# wrong launches, before any training
run train 3 bad -x 1
ok "a world that does not divide the batch: an error naming B*T*ranks" \
    eval '[ "$rc" -ne 0 ] && stderr_has "not a multiple of B\*T\*ranks"'
run train 4 small -x 1 -b 64 -d 4096
ok "shards too small for world*B windows: error" \
    eval '[ "$rc" -ne 0 ] && stderr_has "fewer than one micro-batch for each of 4 ranks"'

done_testing
