"""A GPT-2 in PyTorch written from the paper's description (Radford et al. 2019, on top of
the GPT-1 / "Attention is all you need" decoder), the reference the C model is tested against.

Pre-LayerNorm residual blocks (LayerNorm -> causal multi-head attention -> add;
LayerNorm -> MLP 4x with tanh-GELU -> add), final LayerNorm, LM head tied to the token
embedding. The embedding table has a padded vocabulary Vp >= V; the loss looks at the first
V logits only. Weights use nn.Linear's (out, in) layout.

Also: numpy readers/writers for llm.c model files and a safetensors writer in Hugging
Face's GPT-2 layout, written from the format descriptions in gpt2-checkpoint(5)."""
import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

NAMES = ["wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
         "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"]
MATRICES = {"wte", "wpe", "qkvw", "attprojw", "fcw", "fcprojw"}


def shapes(cfg):
    T, V, L, NH, C, Vp = (cfg[k] for k in ("maxT", "V", "L", "NH", "C", "Vp"))
    return {"wte": (Vp, C), "wpe": (T, C), "ln1w": (L, C), "ln1b": (L, C),
            "qkvw": (L, 3 * C, C), "qkvb": (L, 3 * C), "attprojw": (L, C, C),
            "attprojb": (L, C), "ln2w": (L, C), "ln2b": (L, C), "fcw": (L, 4 * C, C),
            "fcb": (L, 4 * C), "fcprojw": (L, C, 4 * C), "fcprojb": (L, C),
            "lnfw": (C,), "lnfb": (C,)}


def random_params(cfg, seed):
    """Random weights with every tensor non-trivial (biases, LayerNorm affine), so that a
    gradient bug in any of them shows."""
    rng = np.random.default_rng(seed)
    p = {}
    for name, shp in shapes(cfg).items():
        if name in ("ln1w", "ln2w", "lnfw"):
            p[name] = 1.0 + 0.1 * rng.standard_normal(shp)
        elif name in MATRICES:
            p[name] = 0.08 * rng.standard_normal(shp)
        else:
            p[name] = 0.02 * rng.standard_normal(shp)
        p[name] = p[name].astype(np.float32)
    p["wte"][cfg["V"]:] = 0  # padding rows
    return p


def write_llmc(path, cfg, params, bf16=False):
    header = np.zeros(256, dtype="<i4")
    header[:8] = [20240326, 5 if bf16 else 3, cfg["maxT"], cfg["V"], cfg["L"], cfg["NH"],
                  cfg["C"], cfg["Vp"]]
    with open(path, "wb") as f:
        f.write(header.tobytes())
        for name in NAMES:
            a = params[name].astype("<f4")
            if bf16:  # round to nearest even, keep the top 16 bits
                u = a.view("<u4").astype(np.uint64)
                u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
                f.write(u.astype("<u2").tobytes())
            else:
                f.write(a.tobytes())


def read_llmc(path):
    data = open(path, "rb").read()
    h = np.frombuffer(data[:1024], dtype="<i4")
    assert h[0] == 20240326 and h[1] in (3, 5), "not an llm.c model file"
    cfg = dict(maxT=int(h[2]), V=int(h[3]), L=int(h[4]), NH=int(h[5]), C=int(h[6]), Vp=int(h[7]))
    if h[1] == 3:
        flat = np.frombuffer(data[1024:], dtype="<f4")
    else:
        flat = (np.frombuffer(data[1024:], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    params, off = {}, 0
    for name, shp in shapes(cfg).items():
        n = int(np.prod(shp))
        params[name] = flat[off:off + n].reshape(shp).copy()
        off += n
    assert off == flat.size, "size mismatch"
    return cfg, params


def write_safetensors(path, cfg, params, n_head_metadata=True):
    """HF GPT-2 names; Conv1D weights (c_attn, c_proj, c_fc) stored (in, out); wte unpadded;
    the causal-mask buffers h.<i>.attn.bias as the real file has them."""
    V, L, T = cfg["V"], cfg["L"], cfg["maxT"]
    t = {"wte.weight": params["wte"][:V], "wpe.weight": params["wpe"],
         "ln_f.weight": params["lnfw"], "ln_f.bias": params["lnfb"]}
    for l in range(L):
        h = f"h.{l}."
        t[h + "ln_1.weight"], t[h + "ln_1.bias"] = params["ln1w"][l], params["ln1b"][l]
        t[h + "attn.c_attn.weight"] = params["qkvw"][l].T
        t[h + "attn.c_attn.bias"] = params["qkvb"][l]
        t[h + "attn.c_proj.weight"] = params["attprojw"][l].T
        t[h + "attn.c_proj.bias"] = params["attprojb"][l]
        t[h + "ln_2.weight"], t[h + "ln_2.bias"] = params["ln2w"][l], params["ln2b"][l]
        t[h + "mlp.c_fc.weight"] = params["fcw"][l].T
        t[h + "mlp.c_fc.bias"] = params["fcb"][l]
        t[h + "mlp.c_proj.weight"] = params["fcprojw"][l].T
        t[h + "mlp.c_proj.bias"] = params["fcprojb"][l]
        t[h + "attn.bias"] = np.tril(np.ones((T, T), np.float32)).reshape(1, 1, T, T)
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    if n_head_metadata:
        header["__metadata__"]["n_head"] = str(cfg["NH"])
    for name in sorted(t):
        b = np.ascontiguousarray(t[name], dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t[name].shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))


class GPT2:
    def __init__(self, cfg, params):
        self.cfg = cfg
        self.p = {k: torch.tensor(v, dtype=torch.float32, requires_grad=True)
                  for k, v in params.items()}

    def parameters(self):
        return [self.p[k] for k in NAMES]

    def attention(self, x, l):
        B, T, C = x.shape
        NH = self.cfg["NH"]
        qkv = F.linear(x, self.p["qkvw"][l], self.p["qkvb"][l])
        q, k, v = (z.view(B, T, NH, C // NH).transpose(1, 2) for z in qkv.split(C, dim=2))
        scores = q @ k.transpose(-2, -1) / math.sqrt(C // NH)
        causal = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = F.softmax(scores.masked_fill(causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        return F.linear(y, self.p["attprojw"][l], self.p["attprojb"][l])

    def mlp(self, x, l):
        h = F.gelu(F.linear(x, self.p["fcw"][l], self.p["fcb"][l]), approximate="tanh")
        return F.linear(h, self.p["fcprojw"][l], self.p["fcprojb"][l])

    def forward(self, idx, targets=None):
        """idx, targets: LongTensor [B,T]; returns logits [B,T,Vp] and the mean loss."""
        p, C, V = self.p, self.cfg["C"], self.cfg["V"]
        T = idx.shape[1]
        x = p["wte"][idx] + p["wpe"][:T]
        for l in range(self.cfg["L"]):
            x = x + self.attention(F.layer_norm(x, (C,), p["ln1w"][l], p["ln1b"][l], 1e-5), l)
            x = x + self.mlp(F.layer_norm(x, (C,), p["ln2w"][l], p["ln2b"][l], 1e-5), l)
        x = F.layer_norm(x, (C,), p["lnfw"], p["lnfb"], 1e-5)
        logits = x @ p["wte"].T
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits[..., :V].reshape(-1, V), targets.reshape(-1))
        return logits, loss

    def optimizer(self, lr, weight_decay, betas=(0.9, 0.95), eps=1e-8):
        """AdamW with decay on the 2-D weight matrices only."""
        decay = [self.p[k] for k in NAMES if k in MATRICES]
        rest = [self.p[k] for k in NAMES if k not in MATRICES]
        return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                  {"params": rest, "weight_decay": 0.0}],
                                 lr=lr, betas=betas, eps=eps)
