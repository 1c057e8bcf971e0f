"""PyTorch's training speed on this CPU for clgrad-train's MLP (784-256-128-10,
ReLU, Adam lr 1e-3, batch 64), float32 and quantization-aware with the
configuration clgrad-train --qat int8 mirrors (FakeQuantize modules with
moving-average min/max observers: weights int8 per channel symmetric,
activations uint8 per tensor affine, on the input and every layer's output),
on random data: samples/s of the training steps alone, median of --rounds
rounds of --steps steps each. Usage: torch_qat_speed.py [--steps N] [--rounds R] [--threads T]"""
import argparse
import statistics
import time

import os

import torch
from torch import nn
from torch.ao import quantization as q


def act():
    return q.FakeQuantize(observer=q.MovingAverageMinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8)


class QLinear(nn.Linear):
    """A linear layer whose weight passes through a per-channel int8 FakeQuantize."""

    def __init__(self, i, o):
        super().__init__(i, o)
        self.weight_fake_quant = q.FakeQuantize(observer=q.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                                quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                                ch_axis=0)

    def forward(self, x):
        return nn.functional.linear(x, self.weight_fake_quant(self.weight), self.bias)


def mlp(qat):
    if not qat:
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return nn.Sequential(act(), QLinear(784, 256), nn.ReLU(), act(), QLinear(256, 128), nn.ReLU(), act(),
                         QLinear(128, 10), act())


def rate(qat, steps, batch=64):
    torch.manual_seed(1)
    model = mlp(qat).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(steps, batch, 784)
    y = torch.randint(0, 10, (steps, batch))
    for i in range(5):  # warm-up
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    t = time.perf_counter()
    for i in range(steps):
        loss = nn.functional.cross_entropy(model(x[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="Debian's build defaults to one thread; default every core (as compare_torch.py)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    fp, qt = [], []
    for _ in range(a.rounds):  # alternated
        fp.append(rate(False, a.steps))
        qt.append(rate(True, a.steps))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, v in (("float32", fp), ("qat int8", qt)):
        print(f"{name}: median {statistics.median(v):.0f} samples/s (range {min(v):.0f}-{max(v):.0f})")
    print(f"qat / float32: {statistics.median(qt) / statistics.median(fp):.2f}")


main()
