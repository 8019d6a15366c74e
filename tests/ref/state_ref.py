#!/usr/bin/env python3
"""Independent readers written from the man pages alone (not from our C code):

gpt2-train-state(5): the state file of a gpt2-train checkpoint -- a 256-byte little-endian
header (magic "GPT2STAT", version 2 or 1, header size 256, the model config, T, flags, step,
P, seed, data position, tokens, shard and window counts, data order at offset 120, in
version 2 a CRC-32C of the file at 124), then, with flag bit 0, the AdamW moments m and v
as P float32 each, finite and v not negative -- and the data order: the splitmix64-driven
Fisher-Yates shuffles that say which window training reads next.

gpt2-tokens(5): token streams, bin16 (headerless uint16 little-endian) and text (decimal
ids separated by ASCII white space).

  state_ref.py show STATE                 check a state file, print its fields as key=value
  state_ref.py seal STATE                 write the checksum of a (version 2) state file
  state_ref.py bin2text < BIN16 > TEXT    convert token streams
  state_ref.py text2bin < TEXT > BIN16
"""
import struct
import sys

import numpy as np

from crc32c import crc32c

MAGIC, VERSIONS, HEADER, CHECKSUM_AT = b"GPT2STAT", (1, 2), 256, 124
# (name, offset, size) of the header fields after the magic
FIELDS = [("version", 8, 4), ("header_size", 12, 4), ("maxT", 16, 4), ("V", 20, 4),
          ("Vp", 24, 4), ("L", 28, 4), ("NH", 32, 4), ("C", 36, 4), ("T", 40, 4),
          ("flags", 44, 4), ("step", 48, 8), ("P", 56, 8), ("seed", 64, 8), ("epoch", 72, 8),
          ("place", 80, 8), ("window", 88, 8), ("tokens", 96, 8), ("num_shards", 104, 8),
          ("num_windows", 112, 8), ("order", 120, 4), ("checksum", 124, 4)]
SHUFFLED, FILE_ORDER = 1, 2
M64 = (1 << 64) - 1


def checksum(data):
    """gpt2-train-state(5): the CRC-32C of the file with bytes 124-127 zero."""
    return crc32c(bytes(data[:CHECKSUM_AT]) + bytes(4) + bytes(data[CHECKSUM_AT + 4:]))


def num_params(cfg):
    """gpt2-checkpoint(5): Vp*C + maxT*C + L*(12*C*C + 13*C) + 2*C."""
    C, L = cfg["C"], cfg["L"]
    return cfg["Vp"] * C + cfg["maxT"] * C + L * (12 * C * C + 13 * C) + 2 * C


def config_problem(cfg):
    """The validity rule of gpt2-checkpoint(5), or None."""
    if not 1 <= cfg["maxT"] <= 1 << 20: return "maxT"
    if not 1 <= cfg["V"] <= 1 << 24: return "V"
    if not cfg["V"] <= cfg["Vp"] <= 1 << 24: return "Vp"
    if not 1 <= cfg["L"] <= 4096: return "L"
    if not 1 <= cfg["C"] <= 1 << 16: return "C"
    if cfg["NH"] < 1 or cfg["C"] % cfg["NH"]: return "NH"
    return None


def read_state(path):
    """The header fields as a dict, with m and v (numpy float32 arrays, or None). Raises
    ValueError for every file that gpt2-train-state(5) says a reader rejects."""
    data = open(path, "rb").read()
    if len(data) < HEADER:
        raise ValueError(f"{path}: shorter than the header")
    if data[:8] != MAGIC:
        raise ValueError(f"{path}: magic {data[:8]!r}")
    s = {name: int.from_bytes(data[off:off + n], "little") for name, off, n in FIELDS}
    if s["version"] not in VERSIONS:
        raise ValueError(f"{path}: version {s['version']}")
    if s["header_size"] != HEADER:
        raise ValueError(f"{path}: header size {s['header_size']}")
    if s["flags"] & ~1:
        raise ValueError(f"{path}: flags {s['flags']:#x}")
    bad = config_problem(s)
    if bad:
        raise ValueError(f"{path}: invalid config ({bad})")
    if not 1 <= s["T"] <= s["maxT"]:
        raise ValueError(f"{path}: T {s['T']} outside 1..{s['maxT']}")
    if s["P"] != num_params(s):
        raise ValueError(f"{path}: P {s['P']}, the config has {num_params(s)}")
    if s["order"] > FILE_ORDER:
        raise ValueError(f"{path}: data order {s['order']}")
    P, moments = s["P"], s["flags"] & 1
    if len(data) != HEADER + (8 * P if moments else 0):
        raise ValueError(f"{path}: size {len(data)} bytes")
    if s["version"] == 1 and s["checksum"]:
        raise ValueError(f"{path}: version 1 with a checksum")
    if s["version"] == 2 and s["checksum"] != checksum(data):
        raise ValueError(f"{path}: checksum {s['checksum']:08x}, contents {checksum(data):08x}")
    s["m"] = s["v"] = None
    if moments:
        s["m"] = np.frombuffer(data, dtype="<f4", count=P, offset=HEADER)
        s["v"] = np.frombuffer(data, dtype="<f4", count=P, offset=HEADER + 4 * P)
        if not (np.isfinite(s["m"]).all() and np.isfinite(s["v"]).all()):
            raise ValueError(f"{path}: moments not finite")
        if (s["v"] < 0).any():
            raise ValueError(f"{path}: negative second moment")
    return s


# ---- the data order ----

def _next(x):
    """splitmix64: the new state and the output."""
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def key(seed, e, s):
    k1 = _next(seed)[1] ^ e
    k2 = _next(k1)[1] ^ s
    return _next(k2)[1]


def shuffle(n, k):
    a, x = list(range(n)), k
    for j in range(n, 1, -1):
        x, r = _next(x)
        r = (r * j) >> 64
        a[j - 1], a[r] = a[r], a[j - 1]
    return a


class DataOrder:
    """The windows training reads, in order, for shards with the given window counts."""

    def __init__(self, counts, seed, order):
        assert order in (SHUFFLED, FILE_ORDER) and sum(counts) > 0
        self.counts, self.seed, self.shuffled = counts, seed, order == SHUFFLED
        self.pos = (0, 0, 0)

    def shard_order(self, e):
        S = len(self.counts)
        return shuffle(S, key(self.seed, e, M64)) if self.shuffled else list(range(S))

    def window_order(self, e, s):
        n = self.counts[s]
        return shuffle(n, key(self.seed, e, s)) if self.shuffled else list(range(n))

    def take(self):
        """The next window as (shard, window); advances the position."""
        e, i, w = self.pos
        while True:
            if i == len(self.counts):
                e, i = e + 1, 0
            s = self.shard_order(e)[i]
            if w < self.counts[s]:
                break
            i, w = i + 1, 0
        self.pos = (e, i, w + 1)
        return s, self.window_order(e, s)[w]


def windows(num_tokens, T):
    return (num_tokens - 1) // T if num_tokens > 0 else 0


# ---- token streams ----

def read_bin16(data):
    if len(data) % 2:
        raise ValueError("odd length: truncated")
    return np.frombuffer(data, dtype="<u2").astype(np.int64)


def write_bin16(ids):
    return np.asarray(ids, dtype="<u2").tobytes()


def read_text(data):
    ids = []
    for word in data.split():  # bytes.split() splits at ASCII white space
        if not word.isdigit() or int(word) > 65535:
            raise ValueError(f"not a token id: {word!r}")
        ids.append(int(word))
    return np.array(ids, dtype=np.int64)


def write_text(ids):
    return b"".join(b"%d\n" % i for i in ids)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "show":
        s = read_state(sys.argv[2])
        for name, _, _ in FIELDS:
            print(f"{name}={s[name]}")
        print(f"moments={0 if s['m'] is None else len(s['m'])}")
    elif len(sys.argv) == 3 and sys.argv[1] == "seal":
        data = bytearray(open(sys.argv[2], "rb").read())
        data[CHECKSUM_AT:CHECKSUM_AT + 4] = checksum(data).to_bytes(4, "little")
        open(sys.argv[2], "wb").write(data)
    elif len(sys.argv) == 2 and sys.argv[1] == "bin2text":
        sys.stdout.buffer.write(write_text(read_bin16(sys.stdin.buffer.read())))
    elif len(sys.argv) == 2 and sys.argv[1] == "text2bin":
        sys.stdout.buffer.write(write_bin16(read_text(sys.stdin.buffer.read())))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
