#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (fuzz/corpus/<reader>/): a few small
valid files of each format, made with the standard library alone. The
files are committed; rerun only to change them."""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def put(reader, name, data):
    d = os.path.join(HERE, "corpus", reader)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


def npy(descr, shape, payload, version=1):
    shape_txt = "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_txt)
    prefix = 10 if version == 1 else 12
    hlen = len(d) + 1
    pad = (64 - (prefix + hlen) % 64) % 64
    header = d + " " * pad + "\n"
    size = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + payload


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes), in data order."""
    header, at, data = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [at, at + len(raw)]}
        at += len(raw)
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def main():
    images = bytes((i * 37) % 256 for i in range(2 * 3 * 4))
    put("idx", "u8_images", idx(0x08, [2, 3, 4], images))
    put("idx", "u8_labels", idx(0x08, [5], bytes([9, 0, 0, 3, 0])))
    put("idx", "u8_images.gz", gz(idx(0x08, [2, 3, 4], images)))
    put("idx", "two_members.gz", gz(idx(0x08, [5], b"")) + gz(bytes([1, 2, 3, 4, 5])))
    put("idx", "i16", idx(0x0B, [3], struct.pack(">3h", -2, 256, 7)))
    put("idx", "i32", idx(0x0C, [2, 1], struct.pack(">2i", -3, 65536)))
    put("idx", "f32", idx(0x0D, [2], struct.pack(">2f", 1.5, -10)))
    put("idx", "f64.gz", gz(idx(0x0E, [1, 1, 2], struct.pack(">2d", 3.25, -1))))
    put("idx", "i8_empty", idx(0x09, [0, 4], b""))

    put("npy", "f32_2x3", npy("<f4", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6)))
    put("npy", "i32_be_v2", npy(">i4", [3], struct.pack(">3i", 1, -2, 3), version=2))
    put("npy", "u8_scalar", npy("|u1", [], b"\x07"))
    put("npy", "bool", npy("|b1", [2], b"\x01\x00"))
    put("npy", "i64_labels", npy("<i8", [4], struct.pack("<4q", 0, 9, 3, 1)))
    put("npy", "f64_empty", npy("<f8", [0, 3], b""))
    put("npy", "f16_1x1x2", npy("<f2", [1, 1, 2], struct.pack("<2H", 0x3C00, 0xC000)))

    put("safetensors", "pytorch", safetensors(
        [("bias", "F32", [2], struct.pack("<2f", 0.5, -1)),
         ("weight", "F32", [2, 2], struct.pack("<4f", 1, 2, 3, 4))], {"format": "pt"}))
    put("safetensors", "empty", safetensors([]))
    put("safetensors", "dtypes", safetensors(
        [("u64", "U64", [1], struct.pack("<Q", 2**64 - 1)),
         ("i64", "I64", [2], struct.pack("<2q", -1, 5)),
         ("f64", "F64", [1], struct.pack("<d", 0.1)),
         ("f32", "F32", [1, 1], struct.pack("<f", 2.5)),
         ("i32", "I32", [1], struct.pack("<i", -7)),
         ("bf16", "BF16", [1], struct.pack("<H", 0x3F80)),
         ("f16", "F16", [2], struct.pack("<2H", 0x3C00, 1)),
         ("i16", "I16", [1], struct.pack("<h", -2)),
         ("i8", "I8", [3], b"\x01\xff\x02"),
         ("u8", "U8", [0, 2], b""),
         ("flags", "BOOL", [2], b"\x01\x00")]))
    put("safetensors", "metadata_escapes", safetensors(
        [("caf\u00e9 \"q\"", "I32", [2], struct.pack("<2i", 1, 2))],
        {"step": "41", "note": "tab\there \\ \u00e9 \U0001F600", "rng": "18446744073709551615"}))


if __name__ == "__main__":
    main()
