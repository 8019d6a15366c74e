"""Greedy decoding reference for gpt2-sample: a small random GPT-2 (tests/ref/gpt2_ref.py,
written from the paper), decoded greedily by re-running the whole sequence for every
new token (no key/value cache), stopping at <|endoftext|> like gpt2-sample does.

Usage: sample_greedy.py OUTDIR N
Writes OUTDIR/model.bin (llm.c fp32), OUTDIR/model.safetensors (Hugging Face layout),
OUTDIR/prompt.txt (prompt ids) and OUTDIR/expected.txt (the N greedy ids, one a line),
and prints the smallest gap between the best and second-best logit along the way, so a
reader can see the comparison is not decided by rounding."""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gpt2_ref as ref  # noqa: E402

# head size 64, as the CUDA attention requires, so the same files test --device cuda
CFG = dict(maxT=96, V=50257, Vp=50304, L=2, NH=2, C=128)
EOT = 50256


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    params = ref.random_params(CFG, seed=20240326)
    # Scaled so that greedy decoding neither collapses into one repeated token (as with
    # the raw init) nor meets near-ties: here 42 distinct tokens in 60, gaps >= 0.017.
    params["wte"][: CFG["V"]] *= 2
    params["wpe"] *= 4
    ref.write_llmc(os.path.join(out, "model.bin"), CFG, params)
    ref.write_safetensors(os.path.join(out, "model.safetensors"), CFG, params)
    model = ref.GPT2(CFG, params)

    rng = np.random.default_rng(7)
    prompt = [int(t) for t in rng.integers(0, CFG["V"] - 1, size=8)]
    seq, gaps = list(prompt), []
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model.forward(torch.tensor([seq]))
            last = logits[0, -1, : CFG["V"]]
            top2 = torch.topk(last, 2).values
            gaps.append(float(top2[0] - top2[1]))
            tok = int(torch.argmax(last))
            if tok == EOT:
                break
            seq.append(tok)
    with open(os.path.join(out, "prompt.txt"), "w") as f:
        f.write("".join(f"{t}\n" for t in prompt))
    with open(os.path.join(out, "expected.txt"), "w") as f:
        f.write("".join(f"{t}\n" for t in seq[len(prompt):]))
    print(f"greedy: {len(seq) - len(prompt)} tokens, {len(set(seq[len(prompt):]))} distinct, "
          f"smallest top-1/top-2 logit gap {min(gaps):.4f}")


main()
