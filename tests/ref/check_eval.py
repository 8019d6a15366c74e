"""Scores a small HellaSwag-format file and a validation shard with gpt2-eval and with the
PyTorch reference scoring (hellaswag_ref.py over gpt2_ref.GPT2), and compares every
per-ending loss, every prediction, acc, acc_norm and the validation loss; prints TAP.
Usage: check_eval.py BINDIR TMPDIR

Tolerances (fp32 on both sides, differing in summation order): summed and mean losses
|c - ref| <= 1e-4 + 1e-5 |ref|; predictions equal unless the reference's two best
endings are within 1e-4 (then reported, not compared); validation loss 1e-5 relative."""
import json
import os
import subprocess
import sys

import numpy as np
import torch

import gpt2_ref as ref
import hellaswag_ref as hs
from tap import ok, failures, plan

CFG = dict(maxT=64, V=50257, Vp=50304, L=2, NH=4, C=32)
# -b 4: 6 HellaSwag examples and 7 validation windows each end in a partial batch, so a
# validation loss that averaged batch means instead of windows would be off
VAL_T, VAL_WINDOWS, BATCH = 32, 7, 4

RECORDS = [  # context, endings (labels are chosen below)
    ("A man is sitting on a roof. he", ["is using wrap to wrap a pair of skis.",
     "is ripping level tiles off.", "is holding a rubik's cube.",
     "starts pulling up roofing on a roof."]),
    ("A lady walks to a barbell. She bends down and grabs the pole. the lady",
     ["swings and lands in her arms.", "pulls the barbell forward.",
      "pulls a rope attached to the barbell.", "stands and lifts the weight over her head."]),
    ("The chef cracks two eggs into a bowl and", ["whisks them with a fork.", "sings.",
     "throws the bowl out of the window while the guests watch in silence.", "eats it"]),
    ("Kids run across the field. They", ["kick the ball into the goal.", "fly.",
     "are sitting in a car, driving to the beach.", "are very, very, very quiet."]),
    ("Caf\u00e9 na\u00efve r\u00e9sum\u00e9 \u2014 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8. "
     "Then", ["it ends.", "\U0001F600 smiles", "x", "numbers 12345 and 678."]),
    # longer than maxT + 1 tokens: gpt2-eval keeps the last maxT + 1 of each row
    (" ".join(["The long story goes on and on"] * 12) + ". Finally", ["it stops.",
     "the end comes after many more words than anyone expected.", "nothing", "a"]),
]


def argmin_margin(v):
    order = np.argsort(v, kind="stable")
    return int(order[0]), v[order[1]] - v[order[0]]


def main():
    bindir, tmp = sys.argv[1], sys.argv[2]
    params = ref.random_params(CFG, seed=7)
    model_path = os.path.join(tmp, "tiny.bin")
    ref.write_llmc(model_path, CFG, params)
    model = ref.GPT2(CFG, params)

    # the reference scores first, so that the labels can make acc and acc_norm non-trivial
    # and different: even records are labelled with the summed-loss choice, odd ones with
    # the mean-loss choice (the last with neither, where one exists)
    nrec = len(RECORDS)
    scores = [hs.score(model, ctx, ends) for ctx, ends in hs.tokenize_examples(bindir, RECORDS)]
    labels = []
    for i, (sums, means) in enumerate(scores):
        p, pn = argmin_margin(sums)[0], argmin_margin(means)[0]
        labels.append(p if i % 2 == 0 else pn)
    p, pn = argmin_margin(scores[-1][0])[0], argmin_margin(scores[-1][1])[0]
    labels[-1] = min({0, 1, 2, 3} - {p, pn})
    hs_path = os.path.join(tmp, "hs.jsonl")
    with open(hs_path, "w") as f:
        for i, (ctx, endings) in enumerate(RECORDS):
            f.write(json.dumps({"ind": 100 + i, "activity_label": "test", "ctx": ctx,
                                "split": "val", "label": labels[i], "endings": endings}) + "\n")

    # a validation shard (llm.c format) of random tokens
    rng = np.random.default_rng(3)
    toks = rng.integers(0, CFG["V"], size=VAL_WINDOWS * VAL_T + 1 + 5).astype("<u2")
    header = np.zeros(256, dtype="<i4")
    header[:3] = [20240520, 1, len(toks)]
    shard_path = os.path.join(tmp, "val_000000.bin")
    with open(shard_path, "wb") as f:
        f.write(header.tobytes() + toks.tobytes())

    # fp32: the bounds below are float rounding; bf16 is held to fp32 in the C tests
    run = subprocess.run([os.path.join(bindir, "gpt2-eval"), "-m", model_path, "--device", "cpu",
                          "--dtype", "fp32",
                          "--hellaswag", hs_path, "--val", shard_path, "-T", str(VAL_T),
                          "-w", str(VAL_WINDOWS), "-b", str(BATCH), "--verbose"],
                         capture_output=True, text=True)
    ok(run.returncode == 0, "gpt2-eval runs", run.stderr.strip()[-300:] if run.returncode else "")
    lines = [l.split("\t") for l in run.stdout.splitlines()]
    ok(len(lines) == 3 and lines[0][0] == "checkpoint", "header + 2 result lines")
    results = {l[3]: l for l in lines[1:]}
    # with -b 4 the lines come in batch order (grouped by length): keyed by file index
    verbose = {int(v[0]): v for v in (l.split("\t") for l in run.stderr.splitlines()
                                      if l and l[0].isdigit())}
    ok(sorted(verbose) == list(range(len(RECORDS))), f"{len(RECORDS)} per-example lines")
    if failures():
        return

    correct = correct_norm = 0
    for i in range(nrec):
        sums, means = scores[i]
        label = labels[i]
        v = verbose[i]
        ok(int(v[1]) == 100 + i and int(v[2]) == label, f"example {i}: ind, label")
        csums, cmeans = [float(x) for x in v[5:9]], [float(x) for x in v[9:13]]
        for k in range(4):
            ok(abs(csums[k] - sums[k]) <= 1e-4 + 1e-5 * abs(sums[k]),
               f"example {i} ending {k}: summed loss", f"c {csums[k]:.6f} ref {sums[k]:.6f}")
            ok(abs(cmeans[k] - means[k]) <= 1e-4 + 1e-5 * abs(means[k]),
               f"example {i} ending {k}: mean loss", f"c {cmeans[k]:.6f} ref {means[k]:.6f}")
        for col, name, vals in ((3, "acc", sums), (4, "acc_norm", means)):
            pred, margin = argmin_margin(vals)
            if margin > 1e-4:
                ok(int(v[col]) == pred, f"example {i}: {name} prediction {pred}")
            else:
                print(f"# example {i}: {name} near-tie ({margin:.2e}), prediction not compared")
        correct += argmin_margin(sums)[0] == label
        correct_norm += argmin_margin(means)[0] == label
    h = results["hellaswag"]
    ok(abs(float(h[4]) - correct / nrec) < 1e-4, f"acc {h[4]} = {correct}/{nrec}")
    ok(abs(float(h[5]) - correct_norm / nrec) < 1e-4, f"acc_norm {h[5]} = {correct_norm}/{nrec}")
    ok(int(h[7]) == nrec, "examples column")

    # validation loss: mean over windows w (tokens [w*T, w*T+T]) of the mean position loss
    x = torch.tensor(np.stack([toks[w * VAL_T: w * VAL_T + VAL_T] for w in range(VAL_WINDOWS)])
                     .astype(np.int64))
    y = torch.tensor(np.stack([toks[w * VAL_T + 1: w * VAL_T + VAL_T + 1]
                               for w in range(VAL_WINDOWS)]).astype(np.int64))
    with torch.no_grad():
        _, loss = model.forward(x, y)
    val = results["val"]
    ok(abs(float(val[6]) - loss.item()) <= 1e-5 * loss.item(),
       "validation loss", f"c {val[6]} ref {loss.item():.6f}")
    ok(int(val[7]) == VAL_WINDOWS, "validation windows column")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
    sys.exit(plan())
