"""Read safetensors files written by fastgo with PyTorch, as the Go tests do.

    /usr/bin/python3 pyread.py [--model FILE]... FILE...

Checks the layout the reference writers produce (header length a multiple of
8, padded with spaces, entries tiling the data section), builds a torch
tensor for every entry with torch.frombuffer, and prints one JSON object that
maps each FILE to {"metadata": {...}, "tensors": {name: {"dtype", "shape",
"f32_bits" | "ints"}}}. A file also named by --model is loaded into
gen.TinyNet with strict=True, its state_dict checked equal, and
"model_loaded": true added.
"""
import argparse
import json
import os
import struct
import sys

import torch

sys.dont_write_bytecode = True  # keep testdata clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen import TinyNet  # noqa: E402

TORCH = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16,
         "I32": torch.int32, "I64": torch.int64, "I16": torch.int16, "I8": torch.int8,
         "U8": torch.uint8, "BOOL": torch.bool}


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert (8 + n) % 8 == 0, f"header length {n} leaves the data unaligned"
    text = raw[8:8 + n].decode("utf-8")
    assert text.startswith("{") and text.rstrip(" ").endswith("}"), "header padding is not spaces"
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    end = 0
    tensors = {}
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        b, e_ = e["data_offsets"]
        assert b == end, f"{name}: gap or overlap at {b}, previous end {end}"
        end = e_
        dt = TORCH[e["dtype"]]
        buf = bytearray(data[b:e_])
        t = torch.frombuffer(buf, dtype=dt) if buf else torch.empty(0, dtype=dt)
        tensors[name] = t.reshape(e["shape"])
    assert end == len(data), "trailing bytes after the last tensor"
    return meta, tensors


def dump(path, model_check):
    meta, tensors = read(path)
    out = {"metadata": meta, "tensors": {}}
    for name, t in tensors.items():
        e = {"dtype": [k for k, v in TORCH.items() if v == t.dtype][0], "shape": list(t.shape)}
        flat = t.reshape(-1)
        if t.dtype.is_floating_point:
            e["f32_bits"] = [b & 0xFFFFFFFF for b in flat.float().view(torch.int32).tolist()]
        else:
            e["ints"] = flat.to(torch.int64).tolist()
        out["tensors"][name] = e
    if model_check:
        model = TinyNet()
        model.load_state_dict(tensors, strict=True)
        for name, t in model.state_dict().items():
            assert torch.equal(t, tensors[name]), name
        out["model_loaded"] = True
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", action="append", default=[])
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()
    json.dump({p: dump(p, p in args.model) for p in args.files}, sys.stdout)


if __name__ == "__main__":
    main()
