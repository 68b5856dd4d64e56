"""Generate the safetensors test files of package safetensors with PyTorch.

Run from this directory with Debian's PyTorch (1.13, which has no safetensors
package, so the format is written by hand as the reference spec describes):

    /usr/bin/python3 gen.py

It writes
  torch_model.safetensors  the state_dict of TinyNet (conv, batch norm with
                           num_batches_tracked, linear), saved by
                           save_safetensors, a verbatim copy of the writer in
                           shared/bench/torch_w2_w3.py (files it writes must load)
  dtypes.safetensors       one tensor per dtype that fastgo reads (F32, F64, F16,
                           BF16, I32, I64, I16, I8, U8, BOOL), with special values
  *.json                   what each file holds: float32 bit patterns (exact, NaN
                           included) for float tensors and integers for I64 reads
The outputs are deterministic (fixed seed).
"""
import json
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


def save_safetensors(path, sd):
    """Minimal safetensors writer: u64-LE header size, JSON header, raw LE data."""
    dt = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in sd.items():
        b = t.detach().cpu().contiguous().numpy().tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The same writer for every dtype of the format that PyTorch 1.13 has. The
# bytes are taken through an int view so that no NumPy dtype is needed for
# bfloat16.
DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int32: "I32", torch.int64: "I64",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
AS_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def tensor_bytes(t):
    t = t.detach().cpu().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save_any(path, sd, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for name, t in sd.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def expected(sd):
    """What Go must read: float32 bits for float dtypes, ints for the others."""
    out = {}
    for name, t in sd.items():
        e = {"dtype": DTYPES[t.dtype], "shape": list(t.shape)}
        flat = t.detach().reshape(-1)
        if t.dtype.is_floating_point:
            e["f32_bits"] = flat.float().view(torch.int32).tolist()
            e["f32_bits"] = [b & 0xFFFFFFFF for b in e["f32_bits"]]
        else:
            e["ints"] = flat.to(torch.int64).tolist()
            if t.dtype == torch.int32:  # I32 is also readable as float32
                e["f32_bits"] = [b & 0xFFFFFFFF for b in flat.float().view(torch.int32).tolist()]
        out[name] = e
    return out


class TinyNet(nn.Module):
    """A SmallCNN in miniature, with the same kinds of parameter names."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 2, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(2)
        self.fc1 = nn.Linear(2 * 2 * 2, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        return self.fc1(torch.flatten(x, 1))


def dtype_tensors():
    g = torch.Generator().manual_seed(7)
    f32 = torch.randn(2, 3, generator=g)
    f32[0, 0] = float("nan")
    f32[0, 1] = float("-inf")
    f32[0, 2] = -0.0
    f64 = torch.tensor([1.0 / 3.0, -1e-300, 1e39, 3.4028234663852886e38, 2.0 ** -149, 1.0 + 2.0 ** -30],
                       dtype=torch.float64)
    f16 = torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -24, -(2.0 ** -14), 0.0, -0.0, float("inf"), float("nan"),
                        0.333251953125, 1000.5, 2.0 ** -20], dtype=torch.float16).reshape(3, 4)
    bf16 = torch.tensor([1.0, -2.5, 3.3895313892515355e38, 2.0 ** -133, float("-inf"), 0.1],
                        dtype=torch.bfloat16).reshape(2, 1, 3)
    i32 = torch.tensor([0, -1, 2 ** 24, 2 ** 24 + 1, -(2 ** 31), 2 ** 31 - 1], dtype=torch.int32)
    i64 = torch.tensor([[0, -1, 2 ** 62], [-(2 ** 63), 2 ** 63 - 1, 42]], dtype=torch.int64)
    return {
        "f32": f32,
        "f32_scalar": torch.tensor(2.5),
        "f32_empty": torch.zeros(0, 3),
        "f64": f64,
        "f16": f16,
        "bf16": bf16,
        "i32": i32,
        "i64": i64,
        "i64_scalar": torch.tensor(7, dtype=torch.int64),
        "i16": torch.tensor([-32768, 32767, 5], dtype=torch.int16),
        "i8": torch.tensor([-128, 127, -3], dtype=torch.int8),
        "u8": torch.tensor([0, 255, 17], dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]),
    }


def main():
    torch.manual_seed(0)
    model = TinyNet()
    model.train()
    for _ in range(2):  # move the running statistics and num_batches_tracked
        model(torch.randn(4, 1, 4, 4))
    sd = model.state_dict()
    save_safetensors("torch_model.safetensors", sd)
    with open("torch_model.json", "w") as f:
        json.dump(expected(sd), f, indent=0, sort_keys=True)

    dts = dtype_tensors()
    save_any("dtypes.safetensors", dts, {"format": "pt", "note": "written by gen.py"})
    with open("dtypes.json", "w") as f:
        json.dump(expected(dts), f, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
