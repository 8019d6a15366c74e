"""Compares the C model (driven through tests/helpers/model_dump) with gpt2_ref.GPT2 on a
small config; prints TAP. Usage: check_model.py MODEL_DUMP TMPDIR

Tolerances (fp32 both sides, the difference is summation order):
  logits, loss:           |c - ref| <= 1e-4 * max|ref| per element (loss: 1e-5 relative)
  gradients, per tensor:  max|c - ref| <= 1e-4 * max|ref|   (stated looser than logits:
                          backward sums over B*T rows in a different order)
  AdamW: losses and gradient norms of 10 steps 1e-4 relative; parameters after them
  |c - ref| <= 1e-2 * lr * steps per element and its RMS <= 1e-4 * lr * steps (Adam
  moves each weight by about lr per step; where a weight's gradient passes near zero its
  m/sqrt(v) magnifies rounding, so single elements differ more than the bulk).
  The key biases are left out of that last check: their gradient is zero in exact
  arithmetic (a key bias adds the same q.b to every score of a softmax row), so both sides
  see rounding noise there, which Adam's m/sqrt(v) turns into steps of size lr."""
import os
import subprocess
import sys

import numpy as np
import torch

import gpt2_ref as ref
from tap import ok, failures, plan

CFG = dict(maxT=32, V=100, Vp=128, L=2, NH=4, C=64)
B, T, STEPS, LR, WD, CLIP = 2, 16, 10, 1e-3, 0.1, 1.0

def close(got, want, rtol, name):
    """max abs error relative to the largest reference magnitude"""
    err = float(np.max(np.abs(got - want))) / max(float(np.max(np.abs(want))), 1e-30)
    ok(err <= rtol, name, f"max|err|/max|ref| = {err:.2e} (tolerance {rtol:.0e})")


def run_dump(dump, model, tokens, out, steps=0, out_model=None):
    args = [dump, model, tokens, str(B), str(T), str(steps), str(LR), str(WD), str(CLIP), out]
    subprocess.run(args + ([out_model] if out_model else []), check=True)
    raw = np.fromfile(out, dtype="<f4")
    nl = B * T * CFG["Vp"]
    n = sum(int(np.prod(s)) for s in ref.shapes(CFG).values())
    assert raw.size == nl + 1 + n + 2 * steps, "model_dump output size"
    return (raw[:nl].reshape(B, T, CFG["Vp"]), raw[nl], raw[nl + 1:nl + 1 + n],
            raw[nl + 1 + n:].reshape(steps, 2))


def main():
    dump, tmp = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(1)
    params = ref.random_params(CFG, seed=2)
    tok = rng.integers(0, CFG["V"], size=(2, B, T)).astype("<i4")
    tokens = os.path.join(tmp, "tokens.bin")
    tok.tofile(tokens)
    inputs, targets = torch.tensor(tok[0], dtype=torch.long), torch.tensor(tok[1], dtype=torch.long)

    # 1. fp32 llm.c file: logits, loss, gradients, 10 AdamW steps
    model = os.path.join(tmp, "model.bin")
    ref.write_llmc(model, CFG, params)
    out_model = os.path.join(tmp, "after.bin")
    logits, loss, grads, hist = run_dump(dump, model, tokens, os.path.join(tmp, "out"), STEPS,
                                         out_model)
    m = ref.GPT2(CFG, params)
    rlogits, rloss = m.forward(inputs, targets)
    rloss.backward()
    close(logits, rlogits.detach().numpy(), 1e-4, "logits agree with the PyTorch reference")
    close(np.array([loss]), np.array([rloss.item()]), 1e-5,
          f"loss agrees ({loss:.7f} vs {rloss.item():.7f})")
    off = 0
    for name in ref.NAMES:
        want = m.grad(name).reshape(-1)
        close(grads[off:off + want.size], want, 1e-4, f"gradient of {name}")
        off += want.size

    opt = m.optimizer(LR, WD)
    rhist = []
    for _ in range(STEPS):
        opt.zero_grad()
        _, l = m.forward(inputs, targets)
        l.backward()
        norm = torch.nn.utils.clip_grad_norm_(m.parameters(), CLIP)
        opt.step()
        rhist.append((l.item(), norm.item()))
    rhist = np.array(rhist)
    ok(rhist[0, 1] > CLIP, "the reference's first gradient norm exceeds the clip (clipping is exercised)",
       f"norm {rhist[0, 1]:.3f}")
    close(hist[:, 0], rhist[:, 0], 1e-4, "losses of 10 AdamW steps agree")
    print("#   C:   " + " ".join(f"{x:.6f}" for x in hist[:, 0]))
    print("#   ref: " + " ".join(f"{x:.6f}" for x in rhist[:, 0]))
    close(hist[:, 1], rhist[:, 1], 1e-4, "gradient norms of 10 AdamW steps agree")
    ok(rhist[-1, 0] < rhist[0, 0] - 0.1, "the loss falls over the steps")
    _, after = ref.read_llmc(out_model)
    for name in ref.NAMES:
        got, want = after[name], m.value(name)
        if name == "qkvb":  # key biases: see the docstring
            C = CFG["C"]
            got, want = np.delete(got, np.s_[C:2 * C], axis=1), np.delete(want, np.s_[C:2 * C], axis=1)
        d = np.abs(got - want) / (LR * STEPS)
        emax, erms = float(d.max()), float(np.sqrt(np.mean(d * d)))
        ok(emax <= 1e-2 and erms <= 1e-4, f"{name} after 10 steps (written by modelfile_save)",
           f"err / (lr * steps): max {emax:.2e} (tolerance 1e-02), rms {erms:.2e} (1e-04)")

    # 2. the same weights as bf16 (version 5): compare with the reference on the rounded weights
    ref.write_llmc(model, CFG, params, bf16=True)
    logits, loss, _, _ = run_dump(dump, model, tokens, os.path.join(tmp, "out16"))
    _, rounded = ref.read_llmc(model)
    with torch.no_grad():
        rlogits, rloss = ref.GPT2(CFG, rounded).forward(inputs, targets)
    close(logits, rlogits.numpy(), 1e-4, "bf16 model file: logits agree")

    # 3. Hugging Face safetensors layout
    st = os.path.join(tmp, "model.safetensors")
    ref.write_safetensors(st, CFG, params)
    logits, loss, _, _ = run_dump(dump, st, tokens, os.path.join(tmp, "outst"))
    with torch.no_grad():
        rlogits, rloss = ref.GPT2(CFG, params).forward(inputs, targets)
    close(logits, rlogits.numpy(), 1e-4, "safetensors (HF layout): logits agree")
    close(np.array([loss]), np.array([rloss.item()]), 1e-5, "safetensors (HF layout): loss agrees")

    return plan()


if __name__ == "__main__":
    sys.exit(main())
