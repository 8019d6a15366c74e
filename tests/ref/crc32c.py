"""CRC-32C (Castagnoli) as gpt2-shard(5), gpt2-checkpoint(5) and gpt2-train-state(5)
describe it: reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF.
Written from that description, not from our C code; pure Python, for small files."""


def _table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_T = _table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _T[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


if __name__ == "__main__":
    assert crc32c(b"123456789") == 0xE3069283
