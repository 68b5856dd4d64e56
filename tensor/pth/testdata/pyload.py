"""Load .pth files written by package pth with PyTorch, as the Go tests do.

    /usr/bin/python3 pyload.py [--resnet FILE] FILE...

Prints one JSON object mapping each FILE to {NAME: {"dtype", "shape",
"hex"}}, hex being the bytes of tensor.contiguous() in the tensor's dtype,
from torch.load(FILE). With --resnet, FILE is also loaded into torchvision's
resnet18(num_classes=10) with strict=True, run in eval mode on the input of
resnet18_io.safetensors, and "resnet_max_abs_diff" (against the logits of
the original resnet18.pth, run the same way on this machine) and
"resnet_stored_diff" (against the logits stored in resnet18_io.safetensors,
computed on another machine, whose kernels may round differently) are
added.
"""
import argparse
import json
import os
import struct
import sys

import torch
import torchvision

NAMES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int32: "I32", torch.int64: "I64",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
HERE = os.path.dirname(os.path.abspath(__file__))


def raw(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def read_f32_safetensors(path):
    with open(path, "rb") as f:
        b = f.read()
    (n,) = struct.unpack("<Q", b[:8])
    header = json.loads(b[8:8 + n])
    out = {}
    for name, e in header.items():
        lo, hi = e["data_offsets"]
        buf = bytearray(b[8 + n + lo:8 + n + hi])
        out[name] = torch.frombuffer(buf, dtype=torch.float32).reshape(e["shape"])
    return out


def resnet_logits(path, x):
    model = torchvision.models.resnet18(num_classes=10)
    model.load_state_dict(torch.load(path), strict=True)
    model.eval()
    with torch.no_grad():
        return model(x)


def resnet_diff(path):
    io = read_f32_safetensors(os.path.join(HERE, "resnet18_io.safetensors"))
    logits = resnet_logits(path, io["x"])
    orig = resnet_logits(os.path.join(HERE, "resnet18.pth"), io["x"])
    return (logits - orig).abs().max().item(), (logits - io["logits"]).abs().max().item()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--resnet")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    out = {}
    for path in args.files:
        sd = torch.load(path)
        out[path] = {name: {"dtype": NAMES[t.dtype], "shape": list(t.shape), "hex": raw(t).hex()}
                     for name, t in sd.items()}
    if args.resnet:
        out["resnet_max_abs_diff"], out["resnet_stored_diff"] = resnet_diff(args.resnet)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
