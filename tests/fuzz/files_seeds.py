#!/usr/bin/env python3
"""Seeds for files_fuzz: one small valid file of each kind it reads, written from the
formats' documentation (gpt2-checkpoint(5), gpt2-train-state(5), HellaSwag's jsonl,
gpt2-eval(1)'s log), so
the fuzzer starts inside each reader rather than at its first check."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ref"))
from crc32c import crc32c  # noqa: E402

out = sys.argv[1]
maxT, V, Vp, L, NH, C = 4, 10, 16, 1, 1, 4
# name in Hugging Face's layout, our shape; our order is llm.c's
tensors = [("wte.weight", [Vp, C]), ("wpe.weight", [maxT, C]),
           ("h.0.ln_1.weight", [C]), ("h.0.ln_1.bias", [C]),
           ("h.0.attn.c_attn.weight", [3 * C, C]), ("h.0.attn.c_attn.bias", [3 * C]),
           ("h.0.attn.c_proj.weight", [C, C]), ("h.0.attn.c_proj.bias", [C]),
           ("h.0.ln_2.weight", [C]), ("h.0.ln_2.bias", [C]),
           ("h.0.mlp.c_fc.weight", [4 * C, C]), ("h.0.mlp.c_fc.bias", [4 * C]),
           ("h.0.mlp.c_proj.weight", [C, 4 * C]), ("h.0.mlp.c_proj.bias", [C]),
           ("ln_f.weight", [C]), ("ln_f.bias", [C])]
def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n
P = sum(numel(s) for _, s in tensors)
values = [((i * 37) % 17 - 8) / 16 for i in range(P)]

header = struct.pack("<256i", 20240326, 3, maxT, V, L, NH, C, Vp, *[0] * 248)
with open(f"{out}/model_fp32.bin", "wb") as f:
    f.write(header + struct.pack(f"<{P}f", *values))
# as the tools write it: header words 8-10 the tag, checksum kind 1 and the CRC-32C
body = struct.pack(f"<{P}f", *values)
tagged = bytearray(struct.pack("<256I", 20240326, 3, maxT, V, L, NH, C, Vp, 0x32545047, 1,
                               *[0] * 246))
struct.pack_into("<I", tagged, 40, crc32c(bytes(tagged) + body))
with open(f"{out}/model_crc.bin", "wb") as f:
    f.write(bytes(tagged) + body)
with open(f"{out}/model_bf16.bin", "wb") as f:
    f.write(struct.pack("<256i", 20240326, 5, maxT, V, L, NH, C, Vp, *[0] * 248))
    f.write(b"".join(struct.pack("<f", v)[2:] for v in values))

# safetensors: wte unpadded [V, C]; Conv1D weights stored (in, out); F32 and BF16 mixed
meta, data = {"__metadata__": {"n_head": str(NH)}}, b""
for i, (name, shape) in enumerate(tensors):
    if name == "wte.weight":
        shape = [V, C]
    if len(shape) == 2 and name.startswith("h."):
        shape = [shape[1], shape[0]]
    vals = values[:numel(shape)]
    raw = (struct.pack(f"<{len(vals)}f", *vals) if i % 2 == 0
           else b"".join(struct.pack("<f", v)[2:] for v in vals))
    meta[name] = {"dtype": "F32" if i % 2 == 0 else "BF16", "shape": shape,
                  "data_offsets": [len(data), len(data) + len(raw)]}
    data += raw
text = json.dumps(meta).encode()
with open(f"{out}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)

state = bytearray(256)
state[0:8] = b"GPT2STAT"
struct.pack_into("<10I", state, 8, 1, 256, maxT, V, Vp, L, NH, C, 4, 1)
struct.pack_into("<9Q", state, 48, 12, P, 1337, 1, 2, 3, 4096, 2, 500)
struct.pack_into("<I", state, 120, 1)
moments = struct.pack(f"<{2 * P}f", *values, *[abs(v) for v in values])
with open(f"{out}/state.bin", "wb") as f:
    f.write(bytes(state) + moments)
# version 2: the CRC-32C of the file at byte 124
struct.pack_into("<I", state, 8, 2)
struct.pack_into("<I", state, 124, crc32c(bytes(state) + moments))
with open(f"{out}/state2.bin", "wb") as f:
    f.write(bytes(state) + moments)

with open(f"{out}/hellaswag.jsonl", "w") as f:
    f.write(json.dumps({"ind": 4, "ctx": "A man is sitting on a roof. He",
                        "endings": ["is using wrap.", "is ripping it off.",
                                    "is holding a rubik's cube.", "starts pulling up roofing."],
                        "label": 3}) + "\n\n")
    f.write(json.dumps({"ctx": "Élan: ünïcode 😀", "endings": ["a", "b", "c", "d"],
                        "label": "0"}) + "\n")

with open(f"{out}/eval.tsv", "w") as f:
    f.write("checkpoint\tstep\ttokens\ttask\tacc\tacc_norm\tloss\texamples\tseconds\ttimestamp\n")
    f.write("out/model_00000010.bin\t10\t5242880\thellaswag\t0.25\t0.3\tNA\t100\t1.5\t"
            "2026-11-27T09:00:00Z\n")
    f.write("out/model_00000010.bin\t10\t5242880\tval\tNA\tNA\t7.5\t20\t0.5\t"
            "2026-11-27T09:00:01Z\n")

with open(f"{out}/eval2.tsv", "w") as f:
    f.write("checkpoint\tstep\ttokens\ttask\tacc\tacc_norm\tloss\texamples\tseconds\ttimestamp"
            "\tchecksum\n")
    f.write("out/model_00000010.bin\t10\t5242880\thellaswag\t0.25\t0.3\tNA\t100\t1.5\t"
            "2026-11-27T09:00:00Z\t1234abcd\n")
    f.write("out/model_00000010.bin\t10\t5242880\tval\tNA\tNA\t7.5\t20\t0.5\t"
            "2026-11-27T09:00:01Z\tNA\n")
