#!/usr/bin/python3
"""Trains the SmallCNN of docs/performance.md's W2 briefly with PyTorch and reports its test accuracy.

    /usr/bin/python3 eval_torch.py --data DIR --out FILE.safetensors [--steps 150]

The model, initialisation, optimizer and data handling are those of
shared/bench/torch_w2_w3.py (SmallCNN with PyTorch names conv1, bn1, conv2, bn2,
fc1, fc2; torch.manual_seed(0); Adam lr 1e-3; batch 128 in the order
torch.randperm(60000, Generator seeded 0); pixels uint8/255), but only the first
--steps steps are taken, so that a test can afford it. The state dict is written
with the same minimal safetensors writer, and one line of JSON goes to stdout:
{"test_acc": ..., "correct": ..., "n": 10000, "pred": [10000 predicted classes]}.
eval_test.go checks that `fastgo eval` gives the same accuracy from the file.
"""
import argparse
import gzip
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--data", required=True)
ap.add_argument("--out", required=True)
ap.add_argument("--steps", type=int, default=150)
args = ap.parse_args()
torch.set_num_threads(1)


def load_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(base):
    for p in (os.path.join(args.data, base + ".gz"), os.path.join(args.data, base)):
        if os.path.exists(p):
            return p
    raise SystemExit("no %s in %s" % (base, args.data))


def load_split(prefix):
    x = load_idx(find(prefix + "-images-idx3-ubyte"))
    y = load_idx(find(prefix + "-labels-idx1-ubyte"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return x.contiguous(), torch.from_numpy(y.astype(np.int64))


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


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


x_train, y_train = load_split("train")
x_test, y_test = load_split("t10k")
torch.manual_seed(0)
model = SmallCNN()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
perm = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(0))
model.train()
for s in range(args.steps):
    idx = perm[s * 128:(s + 1) * 128]
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
    opt.step()
save_safetensors(args.out, model.state_dict())
model.eval()
with torch.no_grad():
    pred = torch.cat([model(x_test[i:i + 1000]).argmax(1) for i in range(0, len(x_test), 1000)])
correct = int((pred == y_test).sum().item())
print(json.dumps({"test_acc": correct / len(y_test), "correct": correct, "n": len(y_test), "pred": pred.tolist()}))
