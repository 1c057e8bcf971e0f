"""Reads a clgrad-train --qat int8 checkpoint as a deployment tool would,
with the standard library and NumPy: every weight W has W_int8 (I8), and
W_fake_quant.scale (F32) and .zero_point (I32) per output channel, with
q = clamp(round_half_even(W * (1 / scale)) + zero_point, -128, 127) in
float32 as PyTorch's fake quantization computes it; every activation
observer has its scale and zero point; the metadata lists exactly these
as derived. Exit 77 (skipped) without NumPy. Usage: qat_check.py FILE MODEL"""
import json
import struct
import sys

try:
    import numpy as np
except ImportError as e:
    print(f"skipped: {e} (Debian: python3-numpy)")
    sys.exit(77)

DTYPES = {"F32": np.float32, "I32": np.int32, "I8": np.int8}


def read(path):
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + a:8 + n + b], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out, meta


def main():
    path, model = sys.argv[1], sys.argv[2]
    t, meta = read(path)
    derived = set(meta["clgrad.derived"].split(","))
    weights = [k[:-len("_int8")] for k in t if k.endswith("_int8")]
    want = {"mlp": ["fc1.weight", "fc2.weight", "fc3.weight"], "cnn": ["conv1.weight", "conv2.weight", "fc.weight"]}
    assert sorted(weights) == sorted(want[model]), weights
    listed = set()
    for w in weights:
        q, s, z = t[w + "_int8"], t[w + "_fake_quant.scale"], t[w + "_fake_quant.zero_point"]
        assert q.dtype == np.int8 and q.shape == t[w].shape, (w, q.dtype, q.shape)
        assert s.shape == (q.shape[0],) and z.shape == s.shape and (s > 0).all(), w
        assert (z == 0).all(), f"{w}: symmetric int8 has zero points 0"
        inv = (np.float32(1) / s).astype(np.float32).reshape((-1,) + (1,) * (q.ndim - 1))
        prod = (t[w] * inv).astype(np.float32)
        want_q = np.clip(np.rint(prod) + z.reshape(inv.shape).astype(np.float32), -128, 127).astype(np.int8)
        assert (q == want_q).all(), f"{w}: {(q != want_q).sum()} int8 values differ from round(w / s) + zp"
        # the weights use the range: most channels reach +-127 or close
        assert np.abs(q.astype(np.int32)).max() >= 100, f"{w}: int8 values span only {np.abs(q).max()}"
        listed |= {w + "_int8", w + "_fake_quant.scale", w + "_fake_quant.zero_point"}
    acts = [k[:-len(".min_val")] for k in t if k.endswith(".activation_post_process.min_val")]
    assert "quant.activation_post_process" in acts, acts
    for a in acts:
        s, z = t[a + ".scale"], t[a + ".zero_point"]
        lo, hi = float(t[a + ".min_val"]), float(t[a + ".max_val"])
        assert s.shape == (1,) and 0 <= z[0] <= 255 and lo <= hi, (a, s, z, lo, hi)
        assert abs(float(s[0]) - (max(hi, 0) - min(lo, 0)) / 255) <= 1e-6 * float(s[0]), (a, s, lo, hi)
        listed |= {a + ".scale", a + ".zero_point"}
    assert listed == derived, sorted(listed ^ derived)
    print(f"{model}: {len(weights)} int8 weights and {len(acts)} activation ranges in the checkpoint agree with "
          f"round(w / s) + zp; the metadata lists the {len(derived)} derived tensors")


main()
