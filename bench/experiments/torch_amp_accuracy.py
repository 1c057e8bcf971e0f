"""Test accuracy of clgrad-train's MLP (784-256-128-10, ReLU) trained by
PyTorch with clgrad-train's recipe (Adam 1e-3, batch 64, per-pixel
normalisation, shuffled each epoch, drop_last, 10 epochs) in float32 and in
bfloat16 mixed precision (torch.autocast on the CPU, as clgrad-train
--precision bf16 mirrors it), for seeds 1..N: is a gap between clgrad's
bf16 and f32 runs bfloat16's own, or clgrad's? Prints each epoch's test
accuracy, then per precision the mean of the final epochs and of the last
three epochs. Usage: torch_amp_accuracy.py [--seeds N] [--threads T] [--data DIR]"""
import argparse
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import compare_torch  # noqa: E402
from compare_torch import fashion_mnist, model  # noqa: E402

compare_torch.torch = torch  # it imports torch in its main()


def run(xs, ys, xt, yt, amp, seed, epochs=10):
    torch.manual_seed(seed)
    net = model("mlp")
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    lossf = torch.nn.CrossEntropyLoss()
    steps = xs.shape[0] // 64
    accs = []
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(xs.shape[0])
        for s in range(steps):
            idx = perm[s * 64:(s + 1) * 64]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                loss = lossf(net(xs[idx]), ys[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            right = sum(int((net(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum()) for i in range(0, xt.shape[0], 500))
        accs.append(right / xt.shape[0])
    return accs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xs, ys, xt, yt = fashion_mnist(a.data)
    final, last3 = {False: [], True: []}, {False: [], True: []}
    for seed in range(1, a.seeds + 1):
        for amp in (False, True):
            accs = run(xs, ys, xt, yt, amp, seed)
            print(f"{'bf16' if amp else 'f32 '} seed {seed}: " + " ".join(f"{x:.4f}" for x in accs), flush=True)
            final[amp].append(accs[-1])
            last3[amp].append(sum(accs[-3:]) / 3)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for amp in (False, True):
        print(f"{'bf16' if amp else 'f32'}: final epoch mean {statistics.mean(final[amp]):.4f}, "
              f"last three epochs mean {statistics.mean(last3[amp]):.4f}")


if __name__ == "__main__":
    main()
