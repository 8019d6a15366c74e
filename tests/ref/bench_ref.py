"""Times the PyTorch reference's training step (forward, backward, clip, AdamW) for
bench/train-cpu.sh. Usage: bench_ref.py L NH C V B T STEPS; prints the mean wall and CPU
seconds per step after one warm-up step. Threads: torch.set_num_threads from OMP_NUM_THREADS."""
import os
import sys
import time

import numpy as np
import torch

import gpt2_ref as ref


def main():
    L, NH, C, V, B, T, steps = (int(x) for x in sys.argv[1:8])
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    cfg = dict(maxT=1024, V=V, Vp=(V + 127) // 128 * 128, L=L,
               NH=NH, C=C)
    rng = np.random.default_rng(0)
    params = {k: (0.02 * rng.standard_normal(s)).astype(np.float32)
              for k, s in ref.shapes(cfg).items()}
    m = ref.GPT2(cfg, params)
    opt = m.optimizer(1e-4, 0.1)
    idx = torch.randint(0, V, (2, B, T))
    for step in range(steps + 1):
        if step == 1:
            t0, cpu0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        _, loss = m.forward(idx[0], idx[1])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    print(f"{(time.perf_counter() - t0) / steps:.3f} {(time.process_time() - cpu0) / steps:.3f}")


if __name__ == "__main__":
    main()
