#!/usr/bin/env bash
# The section-5 pages against what the tools write and read, through readers written from
# the pages alone (tests/ref/state_ref.py, gpt2_ref.py, shard_ref.py): gpt2-train's state
# files, model files and checkpoint sets (gpt2-train-state(5), gpt2-checkpoint(5)), the
# documented data order, the states a reader must refuse, and token streams (gpt2-tokens(5)).
. "$(dirname "$0")/../lib.sh"
need_python numpy
REF=$TOP/tests/ref

# checks ARGS... < PYTHON: runs the script, which prints "PASS name", "FAIL name" or
# "SKIP name" lines (details on stderr), one TAP line each; a crash is a failure too
checks() {
    local res name
    rc=0
    "$PY" - "$@" >"$T/checks" 2>"$err" || rc=$?
    ok "the checks ran to the end" exits 0
    while read -r res name; do
        case $res in
        PASS) ok "$name" true ;;
        SKIP) skip_ref_test "$name" "the reference could not run (see stderr)" ;;
        *) ok "$name" false ;;
        esac
    done <"$T/checks"
}

# five llm.c training shards with 3, 7, 0, 2 and 5 windows of T = 16 (tokens beyond a
# whole window at the end: the count is floor((n-1)/T)); in the b<k> copies one window
# holds an id outside the vocabulary (250), so training stops where it first reads it
"$PY" - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
toks = [(i * 7 + 3) % 200 for i in range(200)]
bad = [(1, 4), (4, 2), (0, 1)]  # (shard, window) of the b0, b1, b2 copies
def shard(name, t):
    with open(f"{d}/{name}", "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(t), *[0] * 253))
        f.write(struct.pack(f"<{len(t)}H", *t))
for s, w in enumerate([3, 7, 0, 2, 5]):
    t = toks[:16 * w + 1 + 3 * s]
    shard(f"x_train_{s:06d}.bin", t)
    for k, (bs, bw) in enumerate(bad):
        shard(f"b{k}_train_{s:06d}.bin", [300 if (s, i) == (bs, bw * 16 + 5) else v
                                          for i, v in enumerate(t)])
PY
train() { gpt2-train -e 2:2:32 --vocab 250 --max-seq-len 32 -b 2 -t 16 -d 64 --threads 1 "$@"; }

run train -i "$T/x_train_*.bin" -o "$T/sh" -x 5 -n 1 -s 7
ok "shuffled run with a checkpoint every step" exits 0
run train -i "$T/x_train_*.bin" -o "$T/fo" -x 5 -n 1 --no-shuffle
ok "--no-shuffle run with a checkpoint every step" exits 0

checks "$T" "$REF" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[2])
import numpy as np
import state_ref as R
d = sys.argv[1]
def check(cond, name, detail=""):
    print(("PASS " if cond else "FAIL ") + name)
    if not cond and detail:
        print(f"{name}: {detail}", file=sys.stderr)
counts = [R.windows(int.from_bytes(open(f"{d}/x_train_{s:06d}.bin", "rb").read()[8:12],
                                   "little"), 16) for s in range(5)]
check(counts == [3, 7, 0, 2, 5], "window counts of the shards: floor((n-1)/T)", counts)
cfg = dict(maxT=32, V=250, Vp=256, L=2, NH=2, C=32)
states = {}
for run, seed, order in (("sh", 7, R.SHUFFLED), ("fo", 1337, R.FILE_ORDER)):
    fields, where = True, []
    for n in range(1, 6):
        try:
            s = R.read_state(f"{d}/{run}/state_{n:08d}.bin")
        except ValueError as e:
            check(False, f"{run}: the reference reader accepts state {n}", e)
            continue
        states[run, n] = s
        want = dict(cfg, T=16, flags=1, step=n, P=R.num_params(cfg), seed=seed, order=order,
                    tokens=64 * n, num_shards=5, num_windows=17)
        bad = {k: (s[k], v) for k, v in want.items() if s[k] != v}
        fields &= not bad and len(s["m"]) == s["P"]
        if bad:
            print(f"{run} state {n}: (got, want) {bad}", file=sys.stderr)
        dl = R.DataOrder(counts, seed, order)
        for _ in range(4 * n):
            dl.take()
        where.append(((s["epoch"], s["place"], s["window"]), dl.pos))
    check(fields, f"{run}: states 1-5 read by the reference: config, T, flags, step, P, "
          f"seed, data order, tokens, shard and window counts")
    check(all(a == b for a, b in where), f"{run}: the data positions are the documented "
          f"order's after 4 windows a step (into epoch 1)", where)

# the moments after step 1 of AdamW from zero: m = (1-b1) g, v = (1-b2) g^2, so
# v = (1-b2)/(1-b1)^2 m^2 = 5 m^2 with the defaults; m first, then v
s = states.get(("sh", 1))
if s:
    m, v = s["m"].astype(np.float64), s["v"].astype(np.float64)
    check(np.allclose(v, 5 * m * m, rtol=1e-5, atol=1e-30) and (m != 0).mean() > 0.5,
          "state 1: v = 5 m^2 everywhere (m, then v, as documented)")
    # parameter order of the model file: wte [Vp, C] then wpe [maxT, C]; rows V..Vp-1
    # of wte and the positions T..maxT-1 of wpe never get a gradient
    C = 32
    zero = np.zeros(s["P"], bool)
    zero[250 * C:256 * C] = True
    zero[(256 + 16) * C:(256 + 32) * C] = True
    check(not m[zero].any() and not v[zero].any() and (m[~zero] != 0).mean() > 0.9,
          "state 1: moments zero exactly at the padded vocabulary rows and unused positions")

try:
    import gpt2_ref
except ImportError:
    gpt2_ref = None
for n in (1, 5):
    name = f"model {n}: read by gpt2_ref.read_llmc, config of state {n}, 1024 + 4P bytes, "
    name += "padded rows zero, header words 8-10 the tag, kind 1 and the file's CRC-32C, "
    name += "11-255 zero"
    if not gpt2_ref or ("sh", n) not in states:
        print("SKIP " + name)
        continue
    path = f"{d}/sh/model_{n:08d}.bin"
    mcfg, p = gpt2_ref.read_llmc(path)
    raw = open(path, "rb").read()
    h = np.frombuffer(raw[:1024], "<u4")
    crc = R.crc32c(raw[:40] + bytes(4) + raw[44:])
    s = states["sh", n]
    check(mcfg == {k: s[k] for k in mcfg} and h[1] == 3 and h[8] == 0x32545047 and
          h[9] == 1 and h[10] == crc and not h[11:].any() and
          os.path.getsize(path) == 1024 + 4 * s["P"] and not p["wte"][250:].any(), name)
PY

# checkpoint sets: each file synced and renamed into place, the directory synced before
# DONE_N and after it, and only then the older checkpoint pruned, marker first
if strace -o /dev/null true 2>/dev/null; then
    strace -f -y -e trace=fsync,rename,renameat,renameat2,unlink,unlinkat -o "$T/trace" \
        gpt2-train -e 2:2:32 --vocab 250 --max-seq-len 32 -b 2 -t 16 -d 64 --threads 1 \
        -i "$T/x_train_*.bin" -o "$T/sy" -x 2 -n 1 -k 1 2>/dev/null
    "$PY" - "$T/trace" >"$T/ops" <<'PY'
import re, sys
ops = []
for line in open(sys.argv[1]):
    m = re.search(r" (fsync|rename|unlink)\w*\((.*)\) += 0$", line)
    if not m:
        continue
    op, args = m.groups()
    if op == "fsync":
        path = re.search(r"<(.*)>", args).group(1)
        name = re.sub(r"\.tmp\.\w+$", "", path.rsplit("/", 1)[1])
        ops.append("syncdir" if path.endswith("/sy") else "sync " + name)
    else:
        ops.append(op + " " + re.findall(r'"([^"]*)"', args)[-1].rsplit("/", 1)[1])
print(" ".join(ops))
PY
    want=
    for n in 1 2; do
        for f in model_0000000$n.bin state_0000000$n.bin; do want="$want sync $f rename $f"; done
        want="$want syncdir sync DONE_0000000$n rename DONE_0000000$n syncdir"
    done
    want="${want# } unlink DONE_00000001 unlink state_00000001.bin unlink model_00000001.bin"
    ok "checkpoint files synced and renamed, the directory synced around DONE_N, then pruning" \
        test "$(cat "$T/ops")" = "$want"
    [ "$(cat "$T/ops")" = "$want" ] || echo "# got: $(cat "$T/ops")"
else
    ok "checkpoint files synced, renamed, directory synced # SKIP strace cannot trace here" true
fi

# the window order: with one window a step, the run stops at the step that first reads
# the window holding a bad id, which is that window's place in the documented order
for k in 0 1 2; do
    train -i "$T/b${k}_train_*.bin" -o "$T/b$k" -b 1 -d 16 -x 30 -n 0 -s 7 2>/dev/null
done
checks "$T" "$REF" <<'PY'
import os, sys
sys.path.insert(0, sys.argv[2])
import state_ref as R
d = sys.argv[1]
dl = R.DataOrder([3, 7, 0, 2, 5], 7, R.SHUFFLED)
seq = [dl.take() for _ in range(17)]
got = [sum('"type":"train"' in l for l in open(f"{d}/b{k}/log.jsonl")) for k in range(3)]
want = [seq.index(w) for w in [(1, 4), (4, 2), (0, 1)]]
print(("PASS" if got == want else "FAIL") + " the steps that read a marked window are its "
      "places in the documented window order")
if got != want:
    print(f"steps {got}, places {want}", file=sys.stderr)
PY

# states a reader must refuse: the reference reader and gpt2-train --resume both do
# (truncation, trailing bytes, magic, version, data order and P are in tests/unit/state.c)
poke_state() { # poke_state DIR OFFSET SIZE VALUE: a copy of run fo with bytes changed
    rm -rf "$1" && cp -r "$T/fo" "$1"
    "$PY" -c 'import sys
p, off, n, v = sys.argv[1], *map(int, sys.argv[2:])
b = bytearray(open(p, "rb").read()); b[off:off + n] = v.to_bytes(n, "little")
open(p, "wb").write(b)' "$1/state_00000005.bin" "$2" "$3" "$4"
}
# patch_state DIR OFFSET SIZE VALUE: the same, with the checksum made to match (the
# reference's), so that the field itself is what a reader must refuse
patch_state() {
    poke_state "$@" && "$PY" "$REF/state_ref.py" seal "$1/state_00000005.bin"
}
run "$PY" "$REF/state_ref.py" show "$T/fo/state_00000005.bin"
ok "the state files are version 2, their checksum the reference's CRC-32C" \
    eval 'exits 0 && grep -q "^version=2$" "$out"'
# one bit of the seed flipped: only the checksum tells
poke_state "$T/bad" 64 8 1336
run "$PY" "$REF/state_ref.py" show "$T/bad/state_00000005.bin"
ok "reference reader refuses a flipped bit of the seed: checksum" eval 'exits 1 && stderr_has checksum'
run train -i "$T/x_train_*.bin" -o "$T/bad" -x 6 --resume
ok "gpt2-train --resume refuses it, naming the file: checksum mismatch" \
    eval 'exits 1 && stderr_has "state_00000005.bin: checksum mismatch"'
# moments of a run that diverged, with a matching checksum: NaN at m[0] (wte[0])
patch_state "$T/bad" 256 4 2143289344
run "$PY" "$REF/state_ref.py" show "$T/bad/state_00000005.bin"
ok "reference reader refuses a NaN moment" eval 'exits 1 && stderr_has "not finite"'
run train -i "$T/x_train_*.bin" -o "$T/bad" -x 6 --resume
ok "gpt2-train --resume refuses it, naming file and tensor: m of wte[0] is NaN" \
    eval 'exits 1 && stderr_has "state_00000005.bin: m of wte\[0\] is NaN"'

# OFFSET SIZE VALUE, what gpt2-train says and what the reference says
cases=("44 4 3|unknown flags|flags 0x3" "12 4 255|bad header size|header size 255"
    "40 4 33|sequence length outside|T 33 outside" "32 4 3|multiple of heads|invalid config (NH)")
for case in "${cases[@]}"; do
    IFS='|' read -r field msg ref <<<"$case"
    # shellcheck disable=SC2086
    patch_state "$T/bad" $field
    run "$PY" "$REF/state_ref.py" show "$T/bad/state_00000005.bin"
    ok "reference reader refuses: $ref" eval 'exits 1 && stderr_has "$ref"'
    run train -i "$T/x_train_*.bin" -o "$T/bad" -x 6 --resume
    ok "gpt2-train --resume refuses it, naming the file: $msg" \
        eval 'exits 1 && stderr_has "state_00000005.bin: .*$msg"'
done
patch_state "$T/bad" 48 8 4
run "$PY" "$REF/state_ref.py" show "$T/bad/state_00000005.bin"
ok "a state of another step is a valid file" eval 'exits 0 && grep -q "^step=4$" "$out"'
run train -i "$T/x_train_*.bin" -o "$T/bad" -x 6 --resume
ok "... but not the state of model_00000005.bin: refused" eval 'exits 1 && stderr_has "does not belong"'

# token streams: the tools' bin16 and text forms agree with the reference's
printf 'Caf\xc3\xa9 na\xc3\xafve, \xe2\x80\x9cquoted\xe2\x80\x9d \xf0\x9f\x99\x82 text\n\ttabs  and  spaces\n' >"$T/text"
ok "gpt2-tokenize -f bin16 exits 0" into "$T/ids.bin" gpt2-tokenize -f bin16 "$T/text"
ok "gpt2-tokenize -f text exits 0" into "$T/ids.txt" gpt2-tokenize -f text "$T/text"
run "$PY" "$REF/state_ref.py" bin2text <"$T/ids.bin"
ok "bin16 and text of gpt2-tokenize hold the same ids, text one a line" \
    eval 'test -s "$out" && cmp -s "$out" "$T/ids.txt"'
run "$PY" "$REF/state_ref.py" text2bin <"$T/ids.txt"
ok "the reference's bin16 of those ids is gpt2-tokenize's byte for byte" eval 'exits 0 && test -s "$out" && cmp -s "$out" "$T/ids.bin"'
# text as a reader may meet it: every ASCII white space, leading zeros, no final newline
"$PY" -c 'import sys
ids = open(sys.argv[1]).read().split()
seps = [" ", "\t", "\r\n", "\x0b", "\x0c", "  \n "]
sys.stdout.write("\n " + "".join("%05d" % int(i) + seps[k % 6] for k, i in enumerate(ids)).rstrip())' \
    "$T/ids.txt" >"$T/odd.txt"
run gpt2-tokenize -d -f text "$T/odd.txt"
ok "gpt2-tokenize -d -f text reads any ASCII white space and leading zeros" eval 'exits 0 && cmp -s "$out" "$T/text"'
printf '15496 +995\n' >"$T/sign.txt"
run gpt2-tokenize -d -f text "$T/sign.txt"
ok "a sign is refused with its byte offset" eval 'exits 1 && stderr_has "offset 6: not a token id"'
run "$PY" "$REF/state_ref.py" text2bin <"$T/sign.txt"
ok "... as the reference refuses it" exits 1
run gpt2-shard -o "$T/tk/t" --val-tokens 0 -s 10 "$T/ids.bin"
ok "gpt2-shard packs the bin16 stream" exits 0
run "$PY" "$REF/shard_ref.py" cat "$T"/tk/t_train_*
ok "a bin16 stream packed by gpt2-shard reads back through the reference readers" \
    eval 'exits 0 && cmp -s "$out" "$T/ids.bin"'

done_testing
