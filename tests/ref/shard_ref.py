#!/usr/bin/env python3
"""Independent reader/writer of llm.c data shards, written from the documented layout
(not from our C code): a header of 256 little-endian int32 -- magic 20240520, version 1,
token count, the rest free -- then the tokens as little-endian uint16; the file size is
exactly 1024 + 2 * count. Our extension (gpt2-shard(5)): word 3 = 0x32545047 ("GPT2"),
word 4 = 1 (CRC-32C), word 5 = the CRC-32C (Castagnoli) of the token bytes.

  shard_ref.py cat SHARD...   check each shard, write its tokens to stdout
  shard_ref.py zcat SHARD...  the same for zstd shards (header, frame index, frames
                              decompressed one by one with the zstd(1) program)
  shard_ref.py write OUT      write stdin's uint16 stream as a shard the way llm.c's
                              data scripts do (header words beyond the third are zero)
"""
import subprocess
import sys
import numpy as np

from crc32c import crc32c

MAGIC, VERSION, TAG, CRC32C = 20240520, 1, 0x32545047, 1
ZSTD_MAGIC = 0x5A533247  # "G2SZ"


def read_shard(path):
    with open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data[:1024], dtype="<i4")
    assert len(header) == 256, f"{path}: header truncated"
    assert header[0] == MAGIC, f"{path}: magic {header[0]}"
    assert header[1] == VERSION, f"{path}: version {header[1]}"
    count = int(header[2])
    assert len(data) == 1024 + 2 * count, f"{path}: size {len(data)} for {count} tokens"
    tokens = np.frombuffer(data[1024:], dtype="<u2")
    assert len(tokens) == count
    assert header[3] in (0, TAG), f"{path}: header word 3 {header[3]:#x}: damaged tag"
    if header[3] == TAG:
        assert header[4] == CRC32C, f"{path}: checksum kind {header[4]}"
        want = int(header[5]) & 0xFFFFFFFF
        got = crc32c(data[1024:])
        assert got == want, f"{path}: crc32c {got:08x} != header {want:08x}"
    assert not header[6:].any(), f"{path}: unexpected data in header words 6..255"
    return tokens


def read_zstd_shard(path):
    """gpt2-shard(5): header words 6-10 = frame size F, frame count N, level, index offset
    (64 bits); N zstd frames from byte 1024; then N uint32 compressed frame sizes."""
    with open(path, "rb") as f:
        data = f.read()
    header = np.frombuffer(data[:1024], dtype="<u4")
    assert header[0] == ZSTD_MAGIC, f"{path}: magic {header[0]:#x}"
    assert header[1] == VERSION and header[3] == TAG and header[4] == CRC32C
    count, ftok, nframes = int(header[2]), int(header[6]), int(header[7])
    index = int(header[9]) | int(header[10]) << 32
    assert nframes == -(-count // ftok), f"{path}: {nframes} frames for {count} tokens"
    assert len(data) == index + 4 * nframes, f"{path}: size {len(data)}"
    sizes = np.frombuffer(data[index:], dtype="<u4")
    assert 1024 + int(sizes.sum()) == index, f"{path}: frame sizes do not reach the index"
    out, at = [], 1024
    for i, size in enumerate(sizes):
        frame = data[at : at + int(size)]
        # one zstd frame (RFC 8878: magic, then the descriptor whose bit 2 is the content
        # checksum flag), which gpt2-shard(5) requires to have its checksum
        assert frame[:4] == bytes.fromhex("28b52ffd") and frame[4] & 4, f"{path}: frame {i}"
        raw = subprocess.run(["zstd", "-d", "-q", "-c"], input=data[at : at + int(size)],
                             stdout=subprocess.PIPE, check=True).stdout
        want = min(ftok, count - i * ftok)
        assert len(raw) == 2 * want, f"{path}: frame {i} holds {len(raw)} bytes"
        out.append(raw)
        at += int(size)
    raw = b"".join(out)
    assert crc32c(raw) == int(header[5]), f"{path}: crc32c mismatch"
    return np.frombuffer(raw, dtype="<u2")


def main():
    assert crc32c(b"123456789") == 0xE3069283  # the standard check value
    if len(sys.argv) >= 3 and sys.argv[1] == "cat":
        for path in sys.argv[2:]:
            sys.stdout.buffer.write(read_shard(path).astype("<u2").tobytes())
    elif len(sys.argv) >= 3 and sys.argv[1] == "zcat":
        for path in sys.argv[2:]:
            sys.stdout.buffer.write(read_zstd_shard(path).astype("<u2").tobytes())
    elif len(sys.argv) == 3 and sys.argv[1] == "write":
        tokens = np.frombuffer(sys.stdin.buffer.read(), dtype="<u2")
        header = np.zeros(256, dtype="<i4")
        header[0], header[1], header[2] = MAGIC, VERSION, len(tokens)
        with open(sys.argv[2], "wb") as f:
            f.write(header.tobytes())
            f.write(tokens.tobytes())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
