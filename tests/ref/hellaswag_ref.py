"""HellaSwag scoring in PyTorch over gpt2_ref.GPT2, written from the evaluation of the GPT-2
reproductions: each ending is tokenized on its own as " " + ending and appended to the
context's tokens; position t of a row predicts token t+1; an ending's loss is the sum (and
the mean) of the cross-entropies of its own tokens; acc takes the argmin of the sums,
acc_norm of the means. A row longer than maxT + 1 tokens keeps its last maxT + 1 (the rule
gpt2-eval(1) states). Token ids come from gpt2-tokenize (tested against tiktoken on its own).

As a program (the baseline of bench/eval.sh): hellaswag_ref.py BINDIR MODEL JSONL
prints "examples N seconds S acc A acc_norm B" for the 4 rows of each example scored in
one padded forward pass."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

import gpt2_ref as ref

EOT = 50256


def tokenize(bindir, texts):
    """Token ids of each text, encoded apart: gpt2-tokenize -0 puts <|endoftext|> before each
    NUL-separated document."""
    data = "\0".join(texts).encode()
    out = subprocess.run([os.path.join(bindir, "gpt2-tokenize"), "-0", "-f", "text"],
                         input=data, capture_output=True, check=True).stdout.split()
    docs = []
    for t in (int(x) for x in out):
        if t == EOT:
            docs.append([])
        else:
            docs[-1].append(t)
    assert len(docs) == len(texts), (len(docs), len(texts))
    return docs


def tokenize_examples(bindir, records):
    """records: (ctx, [4 endings]) -> [(ctx ids, [4 ending ids])]"""
    n = len(records)
    docs = tokenize(bindir, [r[0] for r in records] + [" " + e for r in records for e in r[1]])
    return [(docs[i], docs[n + 4 * i: n + 4 * i + 4]) for i in range(n)]


def score(model, ctx, endings):
    """Summed and mean loss of each ending's tokens; the 4 rows in one padded batch."""
    V, maxT = model.cfg["V"], model.cfg["maxT"]
    rows, firsts = [], []
    for end in endings:
        row = ctx + end
        start = max(0, len(row) - (maxT + 1))
        rows.append(row[start:])
        firsts.append(max(len(ctx) - start - 1, 0))  # position predicting the ending's 1st
    T = max(len(r) for r in rows) - 1
    x = torch.zeros(len(rows), T, dtype=torch.long)
    y = torch.zeros(len(rows), T, dtype=torch.long)
    mask = torch.zeros(len(rows), T, dtype=torch.float64)
    for b, (row, first) in enumerate(zip(rows, firsts)):
        x[b, :len(row) - 1] = torch.tensor(row[:-1])
        y[b, :len(row) - 1] = torch.tensor(row[1:])
        mask[b, first:len(row) - 1] = 1
    with torch.no_grad():
        logits, _ = model.forward(x)
        losses = F.cross_entropy(logits[..., :V].reshape(-1, V), y.reshape(-1),
                                 reduction="none").view(len(rows), T).double()
    sums = (losses * mask).sum(1)
    return sums.tolist(), (sums / mask.sum(1)).tolist()


def main():
    bindir, model_path, path = sys.argv[1:4]
    cfg, params = ref.read_llmc(model_path)
    model = ref.GPT2(cfg, params)
    recs = [json.loads(l) for l in open(path) if l.strip()]
    examples = tokenize_examples(bindir, [(r["ctx"], r["endings"]) for r in recs])
    correct = correct_norm = 0
    t0 = time.time()
    for r, (ctx, ends) in zip(recs, examples):
        sums, means = score(model, ctx, ends)
        correct += int(np.argmin(sums)) == int(r["label"])
        correct_norm += int(np.argmin(means)) == int(r["label"])
    dt = time.time() - t0
    n = len(recs)
    print(f"examples {n} seconds {dt:.3f} acc {correct / n:.4f} acc_norm {correct_norm / n:.4f}")


if __name__ == "__main__":
    main()
