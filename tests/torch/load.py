"""Loads torch_export's checkpoint into the same network in PyTorch with
load_state_dict(strict=True) and compares the logits in evaluation mode.
Exit 77 (skipped) when PyTorch or NumPy is not installed. Usage: load.py DIR"""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # the suite skips it: PyTorch is only for checks
    print(f"skipped: {e} (Debian: python3-torch, python3-numpy)")
    sys.exit(77)

DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    """The format, read with the standard library: 8-byte header length,
    JSON header, then the data (not the safetensors package: not in Debian)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(blob[8 + n + a:8 + n + b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(2, 3, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(3, eps=1e-5, momentum=0.1)
        self.fc = nn.Linear(27, 5)

    def forward(self, x):
        h = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        return self.fc(h.flatten(1))


def main():
    d = sys.argv[1]
    state = read_safetensors(f"{d}/model.safetensors")
    net = Net()
    # The file holds the optimizer's state too ("<param>.exp_avg", ...), which
    # PyTorch keeps apart; load_state_dict would not even call those keys
    # unexpected (it checks a key's first part after the module's prefix).
    # So: the model's keys strictly, the rest all the optimizer's.
    model_keys = set(net.state_dict())
    others = sorted(k for k in state if k not in model_keys)
    bad = [k for k in others if not k.endswith((".exp_avg", ".exp_avg_sq", ".max_exp_avg_sq", ".momentum_buffer",
                                                   ".square_avg", ".grad_avg", ".sum"))]
    if bad:
        sys.exit(f"tensors that are neither the model's nor its optimizer's: {bad}")
    net.load_state_dict({k: v for k, v in state.items() if k in model_keys}, strict=True)  # missing or wrong: raises
    net.eval()
    x = torch.from_numpy(np.load(f"{d}/x.npy"))
    want = np.load(f"{d}/logits.npy")
    with torch.no_grad():
        got = net(x).numpy()
    err = float(np.max(np.abs(got - want)))
    scale = float(np.max(np.abs(want)))
    print(f"strict load: {len(model_keys)} model tensors ({len(others)} more of the optimizer's); num_batches_tracked {int(net.bn1.num_batches_tracked)}; "
          f"max |PyTorch - clgrad| {err:.3g} of max |logit| {scale:.3g}")
    if int(net.bn1.num_batches_tracked) != 5:
        sys.exit("num_batches_tracked is not the 5 training steps")
    # float sums of at most 27 (linear) and 18 (conv) terms, in another order
    if not err <= 1e-5 * max(1.0, scale):
        sys.exit("PyTorch's logits differ from clgrad's")


main()
