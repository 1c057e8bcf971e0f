"""PyTorch's training speed on this CPU for clgrad-train's MLP (784-256-128-10,
ReLU, Adam lr 1e-3, batch 64) in float32 and in bfloat16 mixed precision as
clgrad-train --precision bf16 mirrors it (torch.autocast on the CPU: the
linear layers' inputs and weights cast to bfloat16; PyTorch 1.13's CPU
autocast has no float16, and no GradScaler is needed for bfloat16), on
random data: samples/s of the training steps alone, median of --rounds
rounds of --steps steps each, alternated. Also the final loss of each run,
to see that both train. Usage: torch_amp_speed.py [--steps N] [--rounds R] [--threads T]"""
import argparse
import os
import statistics
import time

import torch
from torch import nn


def rate(amp, steps, batch=64):
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10)).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(steps + 5, batch, 784)
    y = torch.randint(0, 10, (steps + 5, batch))

    def step(i):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for i in range(5):  # warm-up
        step(i)
    t = time.perf_counter()
    for i in range(steps):
        loss = step(5 + i)
    return steps * batch / (time.perf_counter() - t), float(loss)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="Debian's build defaults to one thread; default every core (as compare_torch.py)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    fp, bf = [], []
    for _ in range(a.rounds):  # alternated
        fp.append(rate(False, a.steps))
        bf.append(rate(True, a.steps))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, v in (("float32", fp), ("autocast bf16", bf)):
        r = [s for s, _ in v]
        print(f"{name}: median {statistics.median(r):.0f} samples/s (range {min(r):.0f}-{max(r):.0f}), "
              f"last loss {v[-1][1]:.4f}")
    print(f"bf16 / float32: {statistics.median([s for s, _ in bf]) / statistics.median([s for s, _ in fp]):.2f}")


if __name__ == "__main__":
    main()
