#!/usr/bin/env python3
"""Hand-made bad files for the hostile battery (tests/hostile/run.sh).

Usage: badfiles.py OUT_DIR GOOD_CHECKPOINT
Writes the files into OUT_DIR and OUT_DIR/manifest, one line "kind path"
(kind: st, npy, idx, ck) per file. Every file is invalid for its reader: it
must be refused with a message. GOOD_CHECKPOINT is a checkpoint of the probe
graph (hostile good-ckpt); the ck files are it, damaged.
Standard library only.
"""
import gzip
import json
import os
import struct
import sys

out, good_path = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
manifest = []


def put(kind, name, data):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(data)
    manifest.append("%s %s" % (kind, path))


def gz(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


# ---- safetensors --------------------------------------------------------------

def st_raw(header_bytes, data=b"", hlen=None):
    if hlen is None:
        hlen = len(header_bytes)
    return struct.pack("<Q", hlen) + header_bytes + data


def st(header, data=b"", pad=True):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return st_raw(h, data)


def t(dtype, shape, a, b):
    return {"dtype": dtype, "shape": shape, "data_offsets": [a, b]}


f8 = struct.pack("<2f", 1.0, 2.0)
good_st = st({"w": t("F32", [2], 0, 8)}, f8)
S = [
    ("st_empty_file", b""),
    ("st_short_len", b"\x08\x00\x00"),
    ("st_len_only", struct.pack("<Q", 8)),
    ("st_len_huge", st_raw(b"{}      ", hlen=1 << 62)),
    ("st_len_2_64_minus_1", st_raw(b"{}", hlen=2**64 - 1)),
    ("st_len_past_end", st_raw(b"{}      ", hlen=4096)),
    ("st_len_zero", st_raw(b"", hlen=0)),
    ("st_truncated_header", good_st[:20]),
    ("st_truncated_data", good_st[:-3]),
    ("st_trailing_bytes", good_st + b"\x00\x00\x00\x00"),
    ("st_not_json", st_raw(b"hello!!!")),
    ("st_json_array", st_raw(b"[1,2,3] ")),
    ("st_json_unclosed", st_raw(b'{"w":{"dtype":"F32"')),
    ("st_json_trailing_comma", st_raw(b'{"a":1,}')),
    ("st_json_nul", st_raw(b'{"w\x00":{}}')),
    ("st_json_bad_utf8", st_raw(b'{"\xff\xfe":1}  ')),
    ("st_json_deep", st_raw(b"[" * 100000 + b"]" * 100000)),
    ("st_json_dup_key", st_raw(b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', f8)),
    ("st_bad_dtype", st({"w": t("F33", [2], 0, 8)}, f8)),
    ("st_dtype_number", st({"w": {"dtype": 7, "shape": [2], "data_offsets": [0, 8]}}, f8)),
    ("st_shape_negative", st({"w": t("F32", [-2], 0, 8)}, f8)),
    ("st_shape_float", st({"w": t("F32", [2.5], 0, 8)}, f8)),
    ("st_shape_nan", st_raw(b'{"w":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}', f8)),
    ("st_shape_string", st({"w": t("F32", ["2"], 0, 8)}, f8)),
    ("st_shape_huge", st({"w": t("F32", [2**62, 2**62], 0, 8)}, f8)),
    ("st_shape_overflow_bytes", st({"w": t("F64", [2**61], 0, 8)}, f8)),
    ("st_shape_too_many_dims", st({"w": t("F32", [1] * 65, 0, 4)}, f8[:4])),
    ("st_shape_1e400", st_raw(b'{"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}', f8)),
    ("st_offsets_mismatch", st({"w": t("F32", [2], 0, 4)}, f8)),
    ("st_offsets_reversed", st({"w": t("F32", [2], 8, 0)}, f8)),
    ("st_offsets_past_end", st({"w": t("F32", [2], 8, 16)}, f8)),
    ("st_offsets_overlap", st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, f8 + f8[:4])),
    ("st_offsets_gap", st({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, f8 + f8[:4])),
    ("st_offsets_same", st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 0, 8)}, f8)),
    ("st_offsets_negative", st({"w": t("F32", [2], -8, 0)}, f8)),
    ("st_offsets_huge", st({"w": t("F32", [2], 2**64 - 8, 2**64)}, f8)),
    ("st_offsets_one", st({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0]}}, f8)),
    ("st_missing_dtype", st({"w": {"shape": [2], "data_offsets": [0, 8]}}, f8)),
    ("st_missing_offsets", st({"w": {"dtype": "F32", "shape": [2]}}, f8)),
    ("st_metadata_not_strings", st({"__metadata__": {"a": 1}, "w": t("F32", [2], 0, 8)}, f8)),
    ("st_metadata_array", st({"__metadata__": [1], "w": t("F32", [2], 0, 8)}, f8)),
    ("st_empty_name", st({"": t("F32", [2], 0, 8)}, f8)),
    ("st_tensor_not_object", st({"w": 5}, f8)),
]
for name, data in S:
    put("st", name, data)

# ---- npy -----------------------------------------------------------------------

def npy_raw(header_text, payload=b"", version=1, hlen=None, magic=b"\x93NUMPY"):
    h = header_text.encode() if isinstance(header_text, str) else header_text
    if hlen is None:
        hlen = len(h)
    size = struct.pack("<H", hlen) if version == 1 else struct.pack("<I", hlen)
    return magic + bytes([version, 0]) + size + h + payload


def npy(d, payload=b"", version=1):
    prefix = 10 if version == 1 else 12
    pad = (64 - (prefix + len(d) + 1) % 64) % 64
    return npy_raw(d + " " * pad + "\n", payload, version)


hdr = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }"
p6 = struct.pack("<6f", *range(6))
good_npy = npy(hdr % ("<f4", "False", "(2, 3)"), p6)
N = [
    ("npy_empty", b""),
    ("npy_bad_magic", b"\x93NUMPZ\x01\x00" + good_npy[8:]),
    ("npy_version_9", good_npy[:6] + b"\x09\x00" + good_npy[8:]),
    ("npy_truncated_header", good_npy[:30]),
    ("npy_truncated_data", good_npy[:-1]),
    ("npy_trailing_data", good_npy + b"\x00" * 4),
    ("npy_hlen_past_end", npy_raw("{}", hlen=60000)),
    ("npy_v2_hlen_huge", npy_raw("{}", version=2, hlen=0xFFFFFFFF)),
    ("npy_not_dict", npy("[1, 2, 3]", p6)),
    ("npy_fortran", npy(hdr % ("<f4", "True", "(2, 3)"), p6)),
    ("npy_descr_unknown", npy(hdr % ("<q9", "False", "(2, 3)"), p6)),
    ("npy_descr_object", npy(hdr % ("|O", "False", "(2, 3)"), p6)),
    ("npy_descr_struct", npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", p6)),
    ("npy_shape_negative", npy(hdr % ("<f4", "False", "(-2, 3)"), p6)),
    ("npy_shape_huge", npy(hdr % ("<f4", "False", "(4611686018427387904, 4611686018427387904)"), p6)),
    ("npy_shape_overflow_bytes", npy(hdr % ("<f8", "False", "(2305843009213693952,)"), p6)),
    ("npy_shape_nan", npy(hdr % ("<f4", "False", "(nan, 3)"), p6)),
    ("npy_shape_float", npy(hdr % ("<f4", "False", "(2.0, 3)"), p6)),
    ("npy_shape_9_dims", npy(hdr % ("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 6)"), p6)),
    ("npy_shape_unclosed", npy(hdr % ("<f4", "False", "(2, 3"), p6)),
    ("npy_missing_shape", npy("{'descr': '<f4', 'fortran_order': False, }", p6)),
    ("npy_missing_descr", npy("{'fortran_order': False, 'shape': (2, 3), }", p6)),
    ("npy_dup_key", npy("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", p6)),
    ("npy_bf16", npy(hdr % ("<V2", "False", "(2, 3)"), p6[:12])),
    ("npy_header_nul", npy_raw("{'descr': '<f4'\x00, 'fortran_order': False, 'shape': (6,), }\n", p6)),
    ("npy_header_no_newline", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", p6)),
]
for name, data in N:
    put("npy", name, data)

# ---- IDX, plain and gzip ---------------------------------------------------------

def idx(code, dims, payload, ndim=None, zero=b"\x00\x00"):
    return zero + bytes([code, len(dims) if ndim is None else ndim]) + \
        b"".join(struct.pack(">I", d) for d in dims) + payload


good_idx = idx(0x08, [2, 3], bytes(range(6)))
I = [
    ("idx_empty", b""),
    ("idx_short", b"\x00\x00\x08"),
    ("idx_bad_zero", idx(0x08, [2, 3], bytes(range(6)), zero=b"\x01\x00")),
    ("idx_bad_type", idx(0x07, [2, 3], bytes(range(6)))),
    ("idx_type_ff", idx(0xFF, [2, 3], bytes(range(6)))),
    ("idx_ndim_zero", idx(0x08, [], b"\x01", ndim=0)),
    ("idx_ndim_255", idx(0x08, [1], b"\x01", ndim=255)),
    ("idx_dims_truncated", idx(0x08, [2, 3], b"", ndim=3)[:12]),
    ("idx_data_short", good_idx[:-1]),
    ("idx_data_long", good_idx + b"\x00"),
    ("idx_dims_huge", idx(0x08, [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 8)),
    ("idx_f64_overflow", idx(0x0E, [0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 8)),
    ("idx_i32_misaligned", idx(0x0C, [2], b"\x00" * 7)),
]
for name, data in I:
    put("idx", name, data)
gzI = [
    ("idx_gz_truncated", gz(good_idx)[:-6]),
    ("idx_gz_bad_crc", gz(good_idx)[:-8] + b"\xde\xad\xbe\xef" + gz(good_idx)[-4:]),
    ("idx_gz_bad_isize", gz(good_idx)[:-4] + b"\xff\xff\xff\x7f"),
    ("idx_gz_garbled", gz(good_idx)[:10] + b"\xff" * 20),
    ("idx_gz_header_only", gz(good_idx)[:10]),
    ("idx_gz_of_bad_type", gz(idx(0x07, [2, 3], bytes(range(6))))),
    ("idx_gz_of_short_data", gz(good_idx[:-2])),
    ("idx_gz_dims_huge", gz(idx(0x08, [0xFFFFFFFF, 0xFFFFFFFF], b"\x00" * 16))),
    ("idx_gz_bomb_claims", gz(idx(0x08, [1 << 30], b"\x00" * 100000))),
    ("idx_gz_empty_member", gz(b"")),
]
for name, data in gzI:
    put("idx", name, data)

# ---- checkpoints of the probe graph -----------------------------------------------

raw = open(good_path, "rb").read()
(hl,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8:8 + hl])
body = raw[8 + hl:]
meta = header.pop("__metadata__", None)
names = sorted(header)
tens = {n: (header[n]["dtype"], header[n]["shape"],
            body[header[n]["data_offsets"][0]:header[n]["data_offsets"][1]]) for n in names}


def ck(tensors, metadata=meta):
    """tensors: dict name -> (dtype, shape, bytes); written in name order."""
    h, at, data = {}, 0, b""
    if metadata is not None:
        h["__metadata__"] = metadata
    for n in sorted(tensors):
        dt, sh, b = tensors[n]
        h[n] = {"dtype": dt, "shape": sh, "data_offsets": [at, at + len(b)]}
        at += len(b)
        data += b
    return st(h, data)


def changed(**kw):
    d = dict(tens)
    d.update(kw)
    return d


w1 = "fc1.weight"
dt, sh, b = tens[w1]
C = []
d = dict(tens); del d[w1]
C.append(("ck_missing_tensor", ck(d)))
d = dict(tens); d["fc3.weight"] = ("F32", [2], b"\x00" * 8)
C.append(("ck_extra_tensor", ck(d)))
d = dict(tens); d["fc1.weight_renamed"] = d.pop(w1)
C.append(("ck_renamed_tensor", ck(d)))
d = dict(tens); d["Fc1.weight"] = d.pop(w1)
C.append(("ck_name_case", ck(d)))
C.append(("ck_shape_transposed", ck(changed(**{w1: (dt, list(reversed(sh)), b)}))))
C.append(("ck_shape_flat", ck(changed(**{w1: (dt, [sh[0] * sh[1]], b)}))))
C.append(("ck_shape_extra_dim", ck(changed(**{w1: (dt, [1] + sh, b)}))))
C.append(("ck_shape_bigger", ck(changed(**{w1: (dt, [sh[0] + 1, sh[1]], b + b[:4 * sh[1]])}))))
C.append(("ck_shape_scalar", ck(changed(**{w1: (dt, [], b[:4])}))))
C.append(("ck_dtype_f64", ck(changed(**{w1: ("F64", sh, b + b)}))))
C.append(("ck_dtype_f16", ck(changed(**{w1: ("F16", sh, b[:len(b) // 2])}))))
C.append(("ck_dtype_i32", ck(changed(**{w1: ("I32", sh, b)}))))
C.append(("ck_dtype_bf16", ck(changed(**{w1: ("BF16", sh, b[:len(b) // 2])}))))
C.append(("ck_dtype_u8", ck(changed(**{w1: ("U8", [len(b)], b)}))))
C.append(("ck_empty", ck({})))
C.append(("ck_empty_no_meta", ck({}, None)))
C.append(("ck_metadata_not_strings", st_raw(json.dumps({"__metadata__": {"step": 2}}).encode() + b" " * 8)))
good_ck = ck(tens)
C.append(("ck_truncated_half", good_ck[:len(good_ck) // 2]))
C.append(("ck_truncated_last_byte", good_ck[:-1]))
C.append(("ck_truncated_header", good_ck[:40]))
C.append(("ck_header_len_garbled", b"\xff" * 8 + good_ck[8:]))
gar = bytearray(good_ck); gar[20:40] = b"\x00" * 20
C.append(("ck_header_garbled", bytes(gar)))
C.append(("ck_npy_instead", good_npy))
C.append(("ck_idx_instead", good_idx))
C.append(("ck_gzip_of_checkpoint", gz(good_ck)))
# every tensor right but one's offsets overlapping its neighbour's
hdr2 = json.loads(good_ck[8:8 + struct.unpack("<Q", good_ck[:8])[0]])
n0, n1 = [n for n in sorted(hdr2) if n != "__metadata__"][:2]
hdr2[n1]["data_offsets"][0] -= 4
hdr2[n1]["data_offsets"][1] -= 4
body2 = good_ck[8 + struct.unpack("<Q", good_ck[:8])[0]:][:-4]
C.append(("ck_offsets_overlap", st(hdr2, body2)))
# a directory and a FIFO-like path and an empty file
for name, data in C:
    put("ck", name, data)
put("ck", "ck_zero_bytes", b"")
os.makedirs(os.path.join(out, "ck_a_directory"), exist_ok=True)
manifest.append("ck %s" % os.path.join(out, "ck_a_directory"))
manifest.append("st %s" % os.path.join(out, "ck_a_directory"))
manifest.append("npy %s" % os.path.join(out, "ck_a_directory"))
manifest.append("idx %s" % os.path.join(out, "ck_a_directory"))
manifest.append("ck %s" % os.path.join(out, "does_not_exist"))

with open(os.path.join(out, "manifest"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print("%d bad files (%d safetensors, %d npy, %d idx, %d checkpoints)" % (
    len(manifest), sum(m.startswith("st ") for m in manifest), sum(m.startswith("npy ") for m in manifest),
    sum(m.startswith("idx ") for m in manifest), sum(m.startswith("ck ") for m in manifest)))
