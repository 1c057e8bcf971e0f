"""Checks torch_ops_values' output (ops_values.c) against PyTorch in float64
(conv_transpose2d, the selection ops, pooling's options, bilinear resizing,
adaptive pooling's unequal windows, broadcasting at rank 6 with a 0-d
operand, a loss and a full reduction as 0-d results): each device's output,
its shape, and the gradients of L = sum(y * r), from the same inputs.
Bounds: |got - want| <= rtol |want| + atol max|want| per tensor, rtol 1e-6
and atol 1e-7 for the double reference (its results are rounded to float
once), rtol 1e-5 and atol 1e-6 for the float devices (sums of at most 27
terms; test_cases bounds them tighter against the reference). Exit 0 when
every line agrees."""
import sys

import torch
import torch.nn.functional as F

CONVT = {  # stride, padding, output padding, dilation
    "convt_k2_s2": ((2, 2), (0, 0), (0, 0), (1, 1)),
    "convt_k3_s2_op1": ((2, 2), (1, 1), (1, 1), (1, 1)),
    "convt_k3_s2_d2": ((2, 2), (2, 1), (1, 0), (2, 2)),
    "convt_k3_s13_op2": ((1, 3), (0, 2), (0, 2), (1, 1)),
}
SHAPES = {k: [(2, 3, 5, 4), (3, 2, 2, 2), (2,)] for k in CONVT}
SHAPES["convt_k3_s2_op1"][1] = SHAPES["convt_k3_s2_d2"][1] = (3, 2, 3, 3)
SHAPES["convt_k3_s13_op2"] = [(1, 2, 4, 3), (2, 3, 3, 2), (3,)]
SHAPES["select"] = [(3, 4), (4,), (3, 1)]
POOLS = {  # max?, kernel, stride, padding, dilation, ceil mode, count_include_pad
    "maxpool_k2_s2_ceil": (1, 2, 2, 0, 1, 1, 1),
    "maxpool_k3_s2_p1_d2_ceil": (1, 3, 2, 1, 2, 1, 1),
    "avgpool_k2_s2_ceil": (0, 2, 2, 0, 1, 1, 1),
    "avgpool_k3_s2_p1_ceil_nopad": (0, 3, 2, 1, 1, 1, 0),
    "avgpool_k3_s2_p1_ceil_h8": (0, 3, 2, 1, 1, 1, 1),
}
for k in POOLS:
    SHAPES[k] = [(2, 3, 7, 9)]
SHAPES["avgpool_k3_s2_p1_ceil_h8"] = [(1, 2, 8, 7)]
RESIZE = {"bilinear_2x": ((10, 8), False), "bilinear_11x3_align": ((11, 3), True), "bilinear_3x7": ((3, 7), False)}
for k in list(RESIZE) + ["adaptive_3x3"]:
    SHAPES[k] = [(2, 3, 5, 4)]
SHAPES["rank6_bcast"] = [(2, 3, 1, 5, 1, 3), (3, 4, 1, 2, 1), ()]
SHAPES["scalar_loss"] = [(3, 4), (3, 4), ()]


def graph(name, ins):
    if name == "rank6_bcast":
        a, b, c = ins
        return torch.sum(a * b + c * a, 2)
    if name == "scalar_loss":
        a, b, c = ins
        return F.mse_loss(a * c, b) + a.max()
    if name in RESIZE:
        size, ac = RESIZE[name]
        return F.interpolate(ins[0], size=size, mode="bilinear", align_corners=ac)
    if name == "adaptive_3x3":
        return F.adaptive_avg_pool2d(ins[0], (3, 3))
    if name in POOLS:
        mx, k, s, p, d, c, inc = POOLS[name]
        if mx:
            return F.max_pool2d(ins[0], k, s, p, dilation=d, ceil_mode=bool(c))
        return F.avg_pool2d(ins[0], k, s, p, ceil_mode=bool(c), count_include_pad=bool(inc))
    if name in CONVT:
        s, p, op, d = CONVT[name]
        return F.conv_transpose2d(ins[0], ins[1], ins[2], stride=s, padding=p, output_padding=op, dilation=d)
    a, b, c = ins
    y = torch.maximum(a, b) + 3 * torch.minimum(a, c) + torch.where(a > b, a, b * c)
    return y + torch.maximum(a, a)


def main(path):
    rows = {}
    for line in open(path):
        f = line.split()
        rows.setdefault(f[0], {}).setdefault(f[1], {})[f[2]] = [float(v) for v in f[4:]]
        assert len(rows[f[0]][f[1]][f[2]]) == int(f[3])
    bad = checked = 0
    for name, devs in rows.items():
        given = devs.pop("in")
        ins = [torch.tensor(given[f"in{k}"], dtype=torch.float64).reshape(s).requires_grad_()
               for k, s in enumerate(SHAPES[name])]
        y = graph(name, ins)
        r = torch.tensor(given["r"], dtype=torch.float64).reshape(y.shape)
        (y * r).sum().backward()
        want = {"y": y.detach().flatten()}
        want.update({f"grad{k}": t.grad.flatten() for k, t in enumerate(ins)})
        for dev, got in devs.items():
            shape = [int(v) for v in got.pop("shape")]
            checked += 1
            if shape != list(y.shape):
                bad += 1
                print(f"FAIL {name} on {dev}: shape {shape}, want {list(y.shape)}")
            rtol, atol = (1e-6, 1e-7) if dev == "reference64" else (1e-5, 1e-6)
            for what, w in want.items():
                g = torch.tensor(got[what], dtype=torch.float64)
                err = (g - w).abs() - rtol * w.abs() - atol * w.abs().max()
                checked += 1
                if g.shape != w.shape or err.max() > 0:
                    bad += 1
                    i = int(err.argmax())
                    print(f"FAIL {name} on {dev}, {what}: element {i} got {g[i].item():.9g} "
                          f"want {w[i].item():.9g}")
                else:
                    print(f"ok   {name} on {dev}, {what} ({len(w)} values)")
    print(f"{checked - bad} of {checked} shapes and tensors agree with PyTorch {torch.__version__} in float64")
    return 1 if bad or not checked else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
