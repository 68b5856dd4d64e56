"""Make the torch.save files that package pth's tests read, with Debian's PyTorch.

Run from this directory (PyTorch 1.13, torchvision 0.14):

    /usr/bin/python3 make_fixtures.py

It writes
  state.pth             a state dict in the zip format (torch.save's default):
                        every dtype pth reads, special values, shared storages,
                        views that are transposed, sliced, as_strided, expanded
                        (zero strides), offset, empty, scalar, an nn.Parameter
                        (pickled through _rebuild_parameter), num_batches_tracked
  state_legacy.pth      the same state dict, _use_new_zipfile_serialization=False
  state_proto4.pth      the same state dict, pickle_protocol=4 (frames,
                        STACK_GLOBAL, MEMOIZE)
  nested.pth            a checkpoint: {"model": state dict, "ema": {...},
                        "epoch": 3, "note": "..."}, legacy format
  expected.safetensors  what each tensor of the state dict holds, as
                        tensor.contiguous() gives it, from PyTorch: NAME in
                        its own dtype (raw bytes), NAME.f32 = NAME.float() for
                        float dtypes, NAME.i64 = NAME.long() for integer dtypes
  resnet18.pth          torchvision's resnet18(num_classes=10) state dict whose
                        tensors are all strided views of three small random
                        storages (the file stays small), zip format
  resnet18_io.safetensors  an input batch x [2, 3, 64, 64] and the logits of
                        that ResNet-18 in eval mode
The outputs are deterministic but for the legacy files' storage keys (PyTorch
names them after memory addresses).
"""
import collections
import json
import struct

import torch
import torchvision

DTYPES = {
    torch.float32: "F32", torch.float64: "F64", torch.float16: "F16",
    torch.bfloat16: "BF16", torch.int32: "I32", torch.int64: "I64",
    torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8", torch.bool: "BOOL",
}
AS_INT = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def tensor_bytes(t):
    """The bytes of t.contiguous(), little-endian, in t's dtype."""
    t = t.detach().contiguous()
    if t.dtype in (torch.float16, torch.bfloat16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def save_safetensors(path, sd):
    """Minimal safetensors writer (PyTorch 1.13 has no safetensors package)."""
    header, blobs, off = {}, [], 0
    for name, t in sd.items():
        b = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def state_dict():
    g = torch.Generator().manual_seed(1)
    base = torch.randn(6, 5, generator=g)  # one storage, viewed five ways
    sd = collections.OrderedDict()
    sd["f32.base"] = base
    sd["f32.t"] = base.t()
    sd["f32.slice"] = base[1:5:2, 1::2]
    sd["f32.strided"] = base.as_strided((3, 2, 2), (4, 1, 7), 3)
    sd["f32.row"] = base[4]
    sd["f32.expand"] = torch.randn(3, 1, generator=g).expand(3, 4)
    sd["f32.specials"] = torch.tensor([float("nan"), float("-inf"), float("inf"), -0.0, 1e-45, 3.4028235e38])
    sd["f32.scalar"] = torch.tensor(2.5)
    sd["f32.empty"] = torch.zeros(0, 3)
    sd["f32.param"] = torch.nn.Parameter(torch.randn(2, 2, generator=g))
    half = torch.tensor([1.0, -2.5, 65504.0, 2.0 ** -24, -(2.0 ** -14), 0.0, -0.0, float("inf"), float("nan"),
                         0.333251953125, 1000.5, 2.0 ** -20], dtype=torch.float16).reshape(3, 4)
    sd["f16"] = half
    sd["f16.t"] = half.t()
    bf = torch.tensor([1.0, -2.5, 3.3895313892515355e38, 2.0 ** -133, float("-inf"), 0.1],
                      dtype=torch.bfloat16).reshape(2, 3)
    sd["bf16"] = bf
    sd["bf16.col"] = bf[:, 1]
    f64 = torch.tensor([1.0 / 3.0, -1e-300, 1e39, 3.4028234663852886e38, 2.0 ** -149, 1.0 + 2.0 ** -30,
                        float("nan"), -2.0], dtype=torch.float64).reshape(2, 4)
    sd["f64"] = f64
    sd["f64.t"] = f64.t()
    i64 = torch.tensor([[0, -1, 2 ** 62], [-(2 ** 63), 2 ** 63 - 1, 42]], dtype=torch.int64)
    sd["i64"] = i64
    sd["i64.t"] = i64.t()
    sd["bn.num_batches_tracked"] = torch.tensor(469, dtype=torch.int64)
    sd["i32"] = torch.tensor([0, -1, 2 ** 24 + 1, -(2 ** 31), 2 ** 31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([-32768, 32767, 5], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, -3], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    return sd


def expected(sd):
    out = collections.OrderedDict()
    for name, t in sd.items():
        t = t.detach()
        out[name] = t.contiguous()
        if t.dtype.is_floating_point:
            out[name + ".f32"] = t.float().contiguous()
        else:
            out[name + ".i64"] = t.long().contiguous()
    return out


def strided_resnet():
    """resnet18(num_classes=10) with every state tensor a view of a few storages."""
    g = torch.Generator().manual_seed(2)
    conv = torch.randn(32768, generator=g) * 0.03  # convolution and fc weights
    affine = torch.rand(4096, generator=g) + 0.25  # BN weight and running_var: positive
    shift = torch.randn(4096, generator=g) * 0.1  # BN bias, running_mean, fc bias
    model = torchvision.models.resnet18(num_classes=10)
    sd = collections.OrderedDict()
    for name, t in model.state_dict().items():
        if t.dtype == torch.int64:
            sd[name] = torch.tensor(100 + len(sd), dtype=torch.int64)
            continue
        shape = t.shape
        key = name.rsplit(".", 1)[-1]
        if len(shape) == 4:  # [out, in, kh, kw]
            v = conv.as_strided(shape, (37, 11, 3, 1), len(sd) % 17)
        elif len(shape) == 2:  # fc.weight [10, 512]
            v = conv.as_strided(shape, (5, 3), 101)
        elif key in ("weight", "running_var"):
            v = affine.as_strided(shape, (3,), len(sd) % 7)
        else:
            v = shift.as_strided(shape, (2,), len(sd) % 11)
        sd[name] = v
    model.load_state_dict(sd)
    model.eval()
    x = torch.randn(2, 3, 64, 64, generator=g)
    with torch.no_grad():
        logits = model(x)
    return sd, x, logits


def main():
    sd = state_dict()
    torch.save(sd, "state.pth")
    torch.save(sd, "state_legacy.pth", _use_new_zipfile_serialization=False)
    torch.save(sd, "state_proto4.pth", pickle_protocol=4)
    small = collections.OrderedDict((k, sd[k]) for k in ("f32.t", "f16", "bn.num_batches_tracked"))
    nested = {"model": small, "ema": {"f32.slice": sd["f32.slice"]}, "epoch": 3, "note": "checkpoint"}
    torch.save(nested, "nested.pth", _use_new_zipfile_serialization=False)
    save_safetensors("expected.safetensors", expected(sd))

    rsd, x, logits = strided_resnet()
    torch.save(rsd, "resnet18.pth")
    save_safetensors("resnet18_io.safetensors", collections.OrderedDict(x=x, logits=logits))
    print("logits", logits)
    for name, t in sd.items():  # PyTorch reads back what it wrote
        for path in ("state.pth", "state_legacy.pth", "state_proto4.pth"):
            got = torch.load(path)[name]
            a, b = got.double().nan_to_num(0.5), t.detach().double().nan_to_num(0.5)
            assert got.dtype == t.dtype and got.stride() == t.stride() and torch.equal(a, b), (path, name)


if __name__ == "__main__":
    main()
