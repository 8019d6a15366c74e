#!/usr/bin/env bash
# Our shards against an independent reader of llm.c's layout (tests/ref/shard_ref.py,
# numpy), and shards written the way llm.c's scripts write them against ours.
. "$(dirname "$0")/../lib.sh"

need_python numpy
REF=$TOP/tests/ref/shard_ref.py

# 70001 tokens below 50257: random 16-bit values with the top bit cleared
head -c 140002 /dev/urandom | "$PY" -c '
import sys, numpy as np
t = np.frombuffer(sys.stdin.buffer.read(), dtype="<u2") % 50257
sys.stdout.buffer.write(t.astype("<u2").tobytes())' >"$T/in.bin"

run gpt2-shard -o "$T/s/x" --shard-size 30000 --val-tokens 20000 "$T/in.bin"
ok "packs" exits 0
shards=("$T"/s/x_val_* "$T"/s/x_train_*)
run "$PY" "$REF" cat "${shards[@]}"
ok "reference reader accepts header, size and crc32c of every shard" exits 0
ok "reference reader sees the same tokens" cmp -s "$out" "$T/in.bin"
run "$PY" "$REF" cat "$T/s/x_val_000000.bin"
ok "first val shard holds the first 20000 tokens" cmp -s "$out" <(head -c 40000 "$T/in.bin")

# zstd shards, read by the same script from gpt2-shard(5) with the zstd program;
# 600001 repetitive tokens so that a shard has several frames
for i in $(seq 9); do cat "$T/in.bin"; done | head -c 1200002 >"$T/big.bin"
run gpt2-shard -z -o "$T/z/x" --shard-size 550000 --val-tokens 0 "$T/big.bin"
ok "packs zstd" exits 0
if command -v zstd >/dev/null; then
    run "$PY" "$REF" zcat "$T"/z/x_train_000000.bin.zst "$T"/z/x_train_000001.bin.zst
    ok "reference reader accepts the zstd shards' header, index, frames and crc32c" exits 0
    ok "and sees the same tokens" cmp -s "$out" "$T/big.bin"
else
    skip_ref_test "reference zstd reader" "no zstd(1) program"
fi

head -c 50000 "$T/in.bin" | "$PY" "$REF" write "$T/llmc.bin"
run gpt2-shard --info "$T/llmc.bin"
ok "shard written like llm.c's scripts: --info" exits 0
ok "no checksum reported for it" grep -q "llm.c shard v1, 25000 tokens, 51024 bytes, no checksum" "$out"
run gpt2-shard --verify "$T/llmc.bin"
ok "--verify passes it" exits 0
run gpt2-shard --cat "$T/llmc.bin"
ok "--cat gives its tokens" cmp -s "$out" <(head -c 50000 "$T/in.bin")

done_testing
