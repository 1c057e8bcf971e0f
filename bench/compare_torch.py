#!/usr/bin/env python3
"""PyTorch on the same workloads as clgrad-bench, written in clgrad-bench's
JSON schema (bench/SCHEMA.md), for `clgrad-bench --compare FILE`.

    python3 bench/compare_torch.py [--device cuda|cpu] [--suite quick|full|GROUP]
                                   [--repeat N] [--bench CLGRAD_BENCH | --cases FILE] --json FILE
    python3 bench/compare_torch.py --check-cases [--bench CLGRAD_BENCH | --cases FILE]

fp32 throughout, TF32 off. Result names and sizes match clgrad-bench's, so
the table lines up: the ops group's rows, inputs and work are clgrad-bench's
own (`clgrad-bench --list-cases`, from the op cases in tests/cases/), and
only the PyTorch expression of each case is written here. Runs with a CUDA GPU or on the CPU (Debian's
python3-torch; it uses whatever BLAS the libblas.so.3 alternative points
at: install libopenblas0-pthread for a fair CPU comparison, and where
OPENBLAS_CORETYPE is set unset it for the run).
"""
import argparse
import datetime
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

torch = F = None  # imported in main(): --check-cases needs no PyTorch


def now():
    return time.perf_counter()


class Timer:
    def __init__(self, device):
        self.cuda = device.type == "cuda"

    def run(self, fn, warmup, repeat):
        for _ in range(warmup):
            fn()
        if self.cuda:
            torch.cuda.synchronize()
        times = []
        for _ in range(repeat):
            if self.cuda:
                a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                a.record()
                fn()
                b.record()
                b.synchronize()
                times.append(a.elapsed_time(b) * 1e-3)
            else:
                t0 = now()
                fn()
                times.append(now() - t0)
        return statistics.median(times), min(times), max(times)


def result(group, name, size, t, work, unit, ceiling):
    med, lo, hi = t
    rate = work / med if med > 0 else 0.0
    return {"group": group, "name": name, "size": size, "median_s": med, "min_s": lo, "max_s": hi,
            "unit": unit, "rate": rate, "ratio_to_ceiling": rate / ceiling if ceiling else 0.0,
            "check": "ok", "note": ""}


def ceilings(dev, gpu, quick, timer, repeat, out):
    # the sizes are clgrad-bench's: fixed per suite, the same on every device
    n = 1 << 25 if quick else 1 << 26
    x = torch.rand(n, device=dev) + 0.1
    y = torch.empty_like(x)
    t = timer.run(lambda: torch.mul(x, 1.0, out=y), 3, repeat)
    r = result("ceilings", "copy bandwidth", f"{n} floats", t, 8.0 * n * 1e-9, "GB/s", 0)
    r["ratio_to_ceiling"] = 1.0
    out.append(r)
    copy = r["rate"]
    sizes = [128, 256, 512, 1024, 2048] + ([] if quick else [4096, 8192])
    best = 0.0
    rows = []
    for s in sizes:
        r = gemm_case(dev, timer, repeat, "ceilings", s, s, s, False, False, 0)
        best = max(best, r["rate"])
        rows.append(r)
    for r in rows:
        r["ratio_to_ceiling"] = r["rate"] / best if best else 0.0
    out.extend(rows)
    return copy, best


def gemm_case(dev, timer, repeat, group, m, n, k, ta, tb, ceiling):
    a = torch.rand((k, m) if ta else (m, k), device=dev) - 0.5
    b = torch.rand((n, k) if tb else (k, n), device=dev) - 0.5
    opa = a.t() if ta else a
    opb = b.t() if tb else b
    c = torch.empty((m, n), device=dev)
    t = timer.run(lambda: torch.matmul(opa, opb, out=c), 2, repeat)
    name = "gemm " + ("T" if ta else "N") + ("T" if tb else "N")
    return result(group, name, f"{m}x{n}x{k}", t, 2.0 * m * n * k * 1e-9, "GFLOP/s", ceiling)


# PyTorch's expression for each op case of clgrad's (tests/cases/), by the
# case's name; the inputs, sizes and work come from `clgrad-bench
# --list-cases`, so only this mapping is written here (and `--check-cases`
# fails when it misses a case). Where clgrad materialises a result that
# PyTorch would leave a view (permute, transpose, slice), .contiguous()
# makes PyTorch do the same copy.
_OBSERVED = {}


def observed_fake_quant(x, per_channel):
    """PyTorch's FakeQuantize module, as clg_fake_quantize_observed: an
    observer (moving-average per-channel symmetric int8, or min/max per-tensor
    affine uint8) then fake quantization with its qparams. One module per
    case and shape, made once."""
    key = (per_channel, tuple(x.shape))
    if key not in _OBSERVED:
        q = torch.ao.quantization
        if per_channel:
            _OBSERVED[key] = q.FakeQuantize(observer=q.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                            quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                            ch_axis=0)
        else:
            _OBSERVED[key] = q.FakeQuantize(observer=q.MinMaxObserver, quant_min=0, quant_max=255, dtype=torch.quint8)
    return _OBSERVED[key](x)


TORCH_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "neg": lambda x: -x,
    "scale": lambda x: x * -1.75,
    "square": lambda x: torch.square(x),
    "exp": lambda x: torch.exp(x),
    "log": lambda x: torch.log(x),
    "sqrt": lambda x: torch.sqrt(x),
    "relu": lambda x: torch.relu(x),
    "sigmoid": lambda x: torch.sigmoid(x),
    "tanh": lambda x: torch.tanh(x),
    "add row bias": lambda a, b: a + b,
    # clgrad's gelu is the tanh form
    "gelu(x + row bias), chain": lambda a, b: F.gelu(a + b, approximate="tanh"),
    "sigmoid(x) * y + z, chain": lambda x, y, z: torch.sigmoid(x) * y + z,
    "maximum": lambda a, b: torch.maximum(a, b),
    "minimum with a row": lambda a, b: torch.minimum(a, b),
    "x times its comparisons with max(x, y)": lambda x, y: x * sum(
        c(x, torch.maximum(x, y)).float() * (1 << k)
        for k, c in enumerate((torch.lt, torch.le, torch.gt, torch.ge, torch.eq, torch.ne))),
    "where(x > y, x, y * z)": lambda x, y, z: torch.where(x > y, x, y * z),
    "where(row > 0, x, row)": lambda x, r: torch.where(r > 0, x, r),
    "leaky relu": lambda x: F.leaky_relu(x, 0.07),
    "gelu": lambda x: F.gelu(x, approximate="tanh"),
    "silu": lambda x: F.silu(x),
    "softplus": lambda x: F.softplus(x),
    "gelu erf": lambda x: F.gelu(x),
    "abs": lambda x: torch.abs(x),
    "clamp": lambda x: torch.clamp(x, -1.0, 1.5),
    "pow": lambda x: torch.pow(x, 1.5),
    "softplus beta 2 threshold 3": lambda x: F.softplus(x, beta=2.0, threshold=3.0),
    # the learnable forms: a float zero point, rounded as clgrad rounds it
    "fake quantize int8 per tensor": lambda x, s, z: torch._fake_quantize_learnable_per_tensor_affine(
        x, s, z, -128, 127, 1.0),
    "fake quantize uint8 per channel, learnable": lambda x, s, z: torch._fake_quantize_learnable_per_channel_affine(
        x, s, z, 1, 0, 255, 0.5),
    "fake quantize 4-bit symmetric, learnable scale": lambda x, s, z: torch._fake_quantize_learnable_per_tensor_affine(
        x, s, z, -8, 7, 1.0),
    "observed fake quant int8 sym per channel": lambda x: observed_fake_quant(x, True),
    "observed fake quant uint8 per tensor": lambda x: observed_fake_quant(x, False),
    # clgrad's 16-bit operands are read widened to float32 (the same math as
    # these); PyTorch 1.13 has no float16 matmul on the CPU
    "cast float16 round trip": lambda x: x.half().float(),
    "cast bfloat16 round trip": lambda x: x.bfloat16().float(),
    "matmul bfloat16 operands": lambda a, b: a.bfloat16().float() @ b.bfloat16().float(),
    "matmul float16 by float32": lambda a, b: a.half().float() @ b,
    "sum": lambda x: torch.sum(x),
    "mean": lambda x: torch.mean(x),
    "mse loss": lambda a, b: F.mse_loss(a, b),
    "huber loss": lambda a, b: F.huber_loss(a, b, delta=1.0),
    "smooth l1 loss": lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
    "sum over rows": lambda x: x.sum(0),
    "mean over columns": lambda x: x.mean(1, keepdim=True),
    "max minus min of all": lambda x: x.amax() - x.amin(),
    "one-hot of argmax times x": lambda x: F.one_hot(x.argmax(1), x.shape[1]).float() * x,
    "max over columns": lambda x: torch.amax(x, 1),
    "reshape": lambda x: x.reshape(x.shape[1], x.shape[0]),
    "permute NCHW to NHWC": lambda x: x.permute(0, 2, 3, 1).contiguous(),
    "transpose": lambda x: x.t().contiguous(),
    "slice columns": lambda x: x[:, min(1, x.shape[1] - 1):min(1, x.shape[1] - 1) + max(1, x.shape[1] // 2)].contiguous(),
    "concat columns": lambda a, b: torch.cat((a, b), 1),
    "softmax": lambda x: F.softmax(x, 1),
    "log softmax": lambda x: F.log_softmax(x, 1),
    "softmax cross-entropy": lambda z, labels: F.cross_entropy(z, labels),
    "bce with logits": lambda z, t: F.binary_cross_entropy_with_logits(z, t),
    "cross-entropy, weights, smoothing, ignore": lambda z, labels, w: F.cross_entropy(
        z, labels, weight=w, ignore_index=0, label_smoothing=0.1),
    "nll loss, sum": lambda x, labels: F.nll_loss(x, labels, reduction="sum"),
    "one-hot times x, ignore 2": lambda x, labels: F.one_hot(labels, x.shape[1]).masked_fill(
        (labels == 2).unsqueeze(1), 0).float() * x,
    "matmul": lambda a, b: a @ b,
    "embedding": lambda ids, w: F.embedding(ids, w),
    "linear": lambda x, w, b: F.linear(x, w, b),
    "conv2d 3x3": lambda x, w, b: F.conv2d(x, w, b, padding=1),
    "max pool 2x2 ceil mode": lambda x: F.max_pool2d(x, 2, 2, ceil_mode=True),
    "max pool 3x3 stride 2 dilation 2 ceil mode": lambda x: F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True),
    "avg pool 2x2 ceil mode": lambda x: F.avg_pool2d(x, 2, 2, ceil_mode=True),
    "avg pool 3x3 stride 2 ceil, padding excluded":
        lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "upsample bilinear 2x": lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
    "resize bilinear, align corners":
        lambda x: F.interpolate(x, size=(x.shape[2] + 3, x.shape[3] - 2), mode="bilinear", align_corners=True),
    "adaptive avg pool to 3x4": lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
    "conv transpose 2x2 stride 2": lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2),
    "conv transpose 3x3 stride 2 output padding 1":
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
    "conv transpose 3x3 stride 2 dilation 2":
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=(2, 1), output_padding=(1, 0), dilation=2),
    "conv2d 3x3 grouped": lambda x, w, b: F.conv2d(x, w, b, padding=1, groups=x.shape[1] // w.shape[1]),
    "max pool 2x2": lambda x: F.max_pool2d(x, 2),
    "avg pool 2x2": lambda x: F.avg_pool2d(x, 2),
    "adaptive avg pool to 1x1": lambda x: F.adaptive_avg_pool2d(x, 1),
    "upsample nearest 2x": lambda x: F.interpolate(x, scale_factor=2, mode="nearest"),
    "layer norm": lambda x, g, b: F.layer_norm(x, x.shape[-1:], g, b, eps=1e-5),
    "group norm": lambda x, g, b: F.group_norm(x, 4 if x.shape[1] % 4 == 0 else x.shape[1], g, b, eps=1e-5),
    "batch norm": lambda x, g, b: F.batch_norm(x, None, None, g, b, training=True, eps=1e-5),
    "relu(batch norm(x)), chain": lambda x, g, b: torch.relu(F.batch_norm(x, None, None, g, b, training=True, eps=1e-5)),
    # torchvision's RandomCrop(padding=2) + RandomHorizontalFlip on the whole batch, as tensors
    "random crop flip": lambda x: torch.roll(F.pad(x, (2, 2, 2, 2)), (1, -1), (2, 3))[:, :, 2:-2, 2:-2].flip(3),
    "dropout": lambda x: F.dropout(x, 0.3, training=True),
    "add 6-D and a broadcast 5-D": lambda a, b: a + b,
    "mul 8-D and a broadcast 7-D": lambda a, b: a * b,
    "mul 6-D by a 0-d parameter": lambda a, s: a * s,
    "sum_axis of 6-D, axis 2": lambda x: x.sum(2),
    "permute 6-D": lambda x: x.permute(4, 0, 5, 2, 1, 3).contiguous(),
    "where 6-D, a 5-D condition and branch": lambda x, y: torch.where(y > 0, x, y),
}


def read_cases(a):
    """The rows of clgrad-bench's ops group at this suite's sizes."""
    if a.cases:
        with open(a.cases) as f:
            doc = json.load(f)
    else:
        suite = "full" if a.suite == "full" else "quick"
        cmd = [a.bench, "--list-cases", "--suite", suite, "--size", repr(a.size)] + (["--op", a.op] if a.op else [])
        try:
            doc = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        except (OSError, subprocess.CalledProcessError) as e:
            sys.exit(f"compare_torch.py: {' '.join(cmd)}: {e} (build clgrad-bench, or give --bench or --cases)")
    if doc.get("schema") != "clgrad-bench-cases/1":
        sys.exit("compare_torch.py: the case list is not clgrad-bench-cases/1")
    return doc["rows"]


def check_cases(rows, whole):
    """Every case of the rows has an expression; with the whole list (no
    --op), every expression a case."""
    names = {r["case"] for r in rows}
    missing = sorted(names - TORCH_OPS.keys())
    stale = sorted(TORCH_OPS.keys() - names) if whole else []
    for m in missing:
        print(f"compare_torch.py: case '{m}' has no PyTorch expression in TORCH_OPS", file=sys.stderr)
    for m in stale:
        print(f"compare_torch.py: TORCH_OPS has '{m}', which is no case of clgrad-bench's", file=sys.stderr)
    return not missing and not stale


def make_input(spec, dev, phase):
    shape = tuple(spec["shape"])
    if spec["label_max"] > 0:
        return torch.randint(0, spec["label_max"], shape, device=dev)
    lo, hi = spec["lo"], spec["hi"]
    x = torch.rand(shape, device=dev) * (hi - lo) + lo
    if not spec["positive"]:
        x = torch.where(torch.rand(shape, device=dev) < 0.5, -x, x)
    return x.requires_grad_(phase == "backward" and spec["param"])


def ops(dev, rows, timer, repeat, copy, best, out):
    for row in rows:
        fn = TORCH_OPS.get(row["case"])
        r = result("ops", row["name"], row["size"], (0.0, 0.0, 0.0), 0, "GB/s", 0)
        if fn is None:
            r["check"], r["note"] = "skipped", "no PyTorch expression in compare_torch.py"
            out.append(r)
            continue
        xs = [make_input(s, dev, row["phase"]) for s in row["inputs"]]
        if row["phase"] == "forward":
            with torch.no_grad():
                t = timer.run(lambda: fn(*xs), 2, repeat)
        else:
            loss = fn(*xs).sum()
            grads = [x for x in xs if x.requires_grad]

            def backward():
                # fresh gradients, as clgrad writes them: accumulating into
                # .grad would read and write each once more
                for x in grads:
                    x.grad = None
                loss.backward(retain_graph=True)

            t = timer.run(backward, 2, repeat)
        if row["bytes"] <= 0 and row["flops"] <= 0:  # a view: its time
            r = result("ops", row["name"], row["size"], t, 0, "ms", 0)
            r["rate"] = t[0] * 1e3
        elif row["by_flops"]:
            r = result("ops", row["name"], row["size"], t, row["flops"] * 1e-9, "GFLOP/s", best)
        else:
            r = result("ops", row["name"], row["size"], t, row["bytes"] * 1e-9, "GB/s", copy)
        if row["flops"] > 0:
            r["flops"] = row["flops"]
        if row["bytes"] > 0:
            r["bytes"] = row["bytes"]
        out.append(r)


def gemm(dev, gpu, quick, timer, repeat, best, out):
    out.append(gemm_case(dev, timer, repeat, "gemm", 256, 256, 784, False, True, best))
    out.append(gemm_case(dev, timer, repeat, "gemm", 256, 784, 256, False, False, best))
    out.append(gemm_case(dev, timer, repeat, "gemm", 256, 784, 256, True, False, best))
    s = 1024 if quick else 4096
    for ta, tb in ((False, False), (True, False), (False, True)):
        out.append(gemm_case(dev, timer, repeat, "gemm", s, s, s, ta, tb, best))


def optim(dev, gpu, quick, timer, repeat, copy, out):
    cases = [
        ("sgd update", lambda p: torch.optim.SGD(p, lr=1e-3), 12),
        ("sgd momentum update", lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9), 20),
        ("adam update", lambda p: torch.optim.Adam(p, lr=1e-3, **fused(gpu)), 28),
        ("adamw update", lambda p: torch.optim.AdamW(p, lr=1e-3, **fused(gpu)), 28),
        ("adam amsgrad update", lambda p: torch.optim.Adam(p, lr=1e-3, amsgrad=True, **fused(gpu)), 36),
        ("rmsprop update", lambda p: torch.optim.RMSprop(p, lr=1e-2), 20),
        ("adagrad update", lambda p: torch.optim.Adagrad(p, lr=1e-2), 20),
    ]
    sizes = [10000000] + ([] if quick else [100000000])
    for n in sizes:
        for name, make, bpp in cases:
            w = torch.nn.Parameter(torch.rand(n, device=dev) - 0.5)
            w.grad = torch.rand(n, device=dev) - 0.5
            opt = make([w])
            t = timer.run(opt.step, 2, repeat)
            out.append(result("optim", name, f"{n:.0e} params", t, n * bpp * 1e-9, "GB/s", copy))


def fused(gpu):
    # The fused (single-kernel) implementation where PyTorch has one.
    if gpu and "fused" in torch.optim.Adam.__init__.__code__.co_varnames:
        return {"fused": True}
    return {}


def model(kind, width=32):
    nn = torch.nn
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                             nn.Linear(128, 10))
    return nn.Sequential(
        nn.Conv2d(1, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(width, 2 * width, 3, padding=1, bias=False), nn.BatchNorm2d(2 * width), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(2 * width * 49, 10))


def train(dev, gpu, timer, repeat, out):
    for kind in ("mlp", "cnn"):
        for batch in (64, 256):
            net = model(kind).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3, **fused(gpu))
            x = torch.rand(batch, 1, 28, 28, device=dev)
            y = torch.randint(0, 10, (batch,), device=dev)
            lossf = torch.nn.CrossEntropyLoss()

            def step():
                opt.zero_grad(set_to_none=True)
                lossf(net(x), y).backward()
                opt.step()

            t = Timer(torch.device("cpu")).run(lambda: (step(), sync(dev)), 2, repeat)
            out.append(result("train", f"{kind} step", f"batch {batch}", t, float(batch), "samples/s", 0))


def load_idx(path):
    import gzip
    import numpy as np
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def fashion_mnist(data_dir):
    """Fashion-MNIST as clgrad-train sees it: [N, 784] float images normalised
    per pixel by the training set's mean and std (a constant pixel: std 1),
    int64 labels; (train images, train labels, test images, test labels)."""
    xs = torch.tensor(load_idx(f"{data_dir}/train-images-idx3-ubyte.gz"), dtype=torch.float32).reshape(-1, 784)
    ys = torch.tensor(load_idx(f"{data_dir}/train-labels-idx1-ubyte.gz"), dtype=torch.int64)
    xt = torch.tensor(load_idx(f"{data_dir}/t10k-images-idx3-ubyte.gz"), dtype=torch.float32).reshape(-1, 784)
    yt = torch.tensor(load_idx(f"{data_dir}/t10k-labels-idx1-ubyte.gz"), dtype=torch.int64)
    mean, std = xs.double().mean(0).float(), xs.double().std(0, unbiased=False).float()
    std = torch.where(std > 0, std, torch.ones_like(std))
    return (xs - mean) / std, ys, (xt - mean) / std, yt


def tta(dev, data_dir, out):
    """clgrad-bench's tta group: train to a test accuracy (0.88 MLP, 0.91 CNN)
    with clgrad-train's recipe (Adam 1e-3, batch 64, per-pixel normalisation by
    the training set's mean and std, shuffled each epoch, drop_last; the CNN on
    a per-step cosine schedule over the 10-epoch cap; PyTorch's default init),
    evaluating after every epoch; the time is training plus evaluation up to
    the first epoch that reaches it."""
    xs, ys, xt, yt = (t.to(dev) for t in fashion_mnist(data_dir))
    for kind, schedule, target, cap in (("mlp", "constant", 0.88, 10), ("cnn", "cosine", 0.91, 10)):
        torch.manual_seed(1)
        net = model(kind).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        steps = xs.shape[0] // 64
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps * cap) if schedule == "cosine" else None
        lossf = torch.nn.CrossEntropyLoss()
        shape = (-1, 784) if kind == "mlp" else (-1, 1, 28, 28)
        elapsed, reached, acc = 0.0, 0, 0.0
        for epoch in range(cap):
            t0 = now()
            net.train()
            perm = torch.randperm(xs.shape[0], device=dev)
            for s in range(steps):
                idx = perm[s * 64:(s + 1) * 64]
                opt.zero_grad(set_to_none=True)
                lossf(net(xs[idx].reshape(shape)), ys[idx]).backward()
                opt.step()
                if sched:
                    sched.step()
            net.eval()
            with torch.no_grad():
                right = sum(int((net(xt[i:i + 500].reshape(shape)).argmax(1) == yt[i:i + 500]).sum())
                            for i in range(0, xt.shape[0], 500))
            sync(dev)
            elapsed += now() - t0
            acc = right / xt.shape[0]
            print(f"compare_torch.py: tta {kind} epoch {epoch + 1}: test accuracy {acc:.4f}, {elapsed:.1f} s",
                  file=sys.stderr)
            if acc >= target:
                reached = epoch + 1
                break
        r = result("tta", f"{kind} to {target:.2f}", f"batch 64, adam, {schedule}, cap {cap}", (elapsed,) * 3,
                   0, "s", 0)
        r["rate"] = elapsed
        if reached:
            r["note"] = f"reached after epoch {reached}"
        else:
            r["check"] = "FAILED"
            r["note"] = f"not reached in {cap} epochs (final test accuracy {acc:.4f})"
        out.append(r)


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", help="cuda or cpu; default cuda where PyTorch has it")
    ap.add_argument("--suite", default="quick", help="quick or full (sizes), or a group at quick sizes")
    ap.add_argument("--repeat", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist", help="Fashion-MNIST, for --suite tta")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--bench", default=os.path.join(here, "..", "build", "bench", "clgrad-bench"),
                    help="clgrad-bench, whose --list-cases gives the ops group's rows (default: the build folder's)")
    ap.add_argument("--cases", help="its --list-cases output, instead of running it")
    ap.add_argument("--size", type=float, default=1.0, help="as clgrad-bench's --size: the ops group's sizes")
    ap.add_argument("--op", help="as clgrad-bench's --op: only the ops rows whose name matches")
    ap.add_argument("--check-cases", action="store_true",
                    help="only check that every op case has a PyTorch expression (exit 1 if not); needs no PyTorch")
    a = ap.parse_args()
    if a.check_cases:
        sys.exit(0 if check_cases(read_cases(a), not a.op) else 1)
    global torch, F
    import torch
    import torch.nn.functional as F
    groups = ["ceilings", "ops", "gemm", "optim", "train", "tta"]
    if a.suite not in ("quick", "full") and a.suite not in groups + ["startup"]:
        sys.exit(f"compare_torch.py: unknown suite '{a.suite}'")
    if not a.json:
        sys.exit("compare_torch.py: --json FILE is required")
    a.device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    quick = a.suite != "full"
    repeat = a.repeat or (5 if quick else 20)
    dev = torch.device(a.device)
    gpu = dev.type == "cuda"
    if not gpu:
        torch.set_num_threads(os.cpu_count() or 1)  # Debian's build defaults to one thread
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    timer = Timer(dev)
    want = groups if a.suite in ("quick", "full") else [a.suite]
    out = []
    copy = best = 0.0
    if "ceilings" in want or want != groups:
        row = []
        copy, best = ceilings(dev, gpu, quick, timer, repeat, row)
        if "ceilings" in want:
            out += row
    if "ops" in want:
        rows = read_cases(a)
        check_cases(rows, False)
        ops(dev, rows, timer, repeat, copy, best, out)
    if "gemm" in want:
        gemm(dev, gpu, quick, timer, repeat, best, out)
    if "optim" in want:
        optim(dev, gpu, quick, timer, repeat, copy, out)
    if "train" in want:
        train(dev, gpu, timer, repeat, out)
    if "tta" in want and a.suite != "quick":  # minutes: the full suite or --suite tta
        tta(dev, a.data, out)
    name = torch.cuda.get_device_name(dev) if gpu else (platform.processor() or platform.machine())
    props = torch.cuda.get_device_properties(dev) if gpu else None
    doc = {
        "schema": "clgrad-bench/1",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": f"compare_torch.py (PyTorch {torch.__version__})",
        "machine": {"hostname": socket.gethostname(), "os": platform.system(), "release": platform.release(),
                    "arch": platform.machine(), "cpus": os.cpu_count() or 0},
        "suite": a.suite,
        "repeat": repeat,
        "devices": [{
            "spec": f"torch:{dev.type}", "label": f"PyTorch {torch.__version__} {dev.type}",
            "description": f"PyTorch {torch.__version__} on {name}, fp32, TF32 off, {torch.get_num_threads()} threads",
            "type": "gpu" if gpu else "cpu", "vendor": "NVIDIA" if gpu else "", "name": name,
            "driver_version": torch.version.cuda or "", "opencl_version": "",
            "compute_units": props.multi_processor_count if props else (os.cpu_count() or 0),
            "clock_mhz": 0, "global_mem_bytes": props.total_memory if props else 0, "local_mem_bytes": 0,
            "ceilings": {"copy_gbs": copy, "gemm_gflops": best},
            "results": out,
        }],
    }
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
