#!/usr/bin/python3
"""Writes init.json: PyTorch 1.13's default initialisation of Linear and Conv2d.

    /usr/bin/python3 layers/testdata/gen_init.py   # from the repository root

For each layer below, reset_parameters() draws the weight from
kaiming_uniform_(a=sqrt(5)) and the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
The file records, per layer, the weight shape, fan_in as torch computes it
(_calculate_fan_in_and_fan_out), the weight bound as torch's own formula gives it
(sqrt(3) * calculate_gain('leaky_relu', sqrt(5)) / sqrt(fan_in)), the bias bound,
and statistics of one draw (torch.manual_seed(0)): max |w|, the standard
deviation of w and max |b|. init_test.go checks fastgo's initialisers against
these numbers.
"""
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.init as init

LAYERS = [
    ("linear_512_1024", lambda: nn.Linear(512, 1024)),
    ("linear_3136_128", lambda: nn.Linear(3136, 128)),
    ("conv_1_32_k3", lambda: nn.Conv2d(1, 32, 3, padding=1)),
    ("conv_64_128_k3", lambda: nn.Conv2d(64, 128, 3)),
    ("conv_64_128_k3_groups4", lambda: nn.Conv2d(64, 128, 3, groups=4)),
    ("conv_16_96_k5_nobias", lambda: nn.Conv2d(16, 96, 5, bias=False)),
    ("conv_256_512_k1", lambda: nn.Conv2d(256, 512, 1)),
]

out = {"torch": torch.__version__, "layers": []}
for name, make in LAYERS:
    torch.manual_seed(0)
    m = make()
    w = m.weight.detach()
    fan_in, _ = init._calculate_fan_in_and_fan_out(w)
    gain = init.calculate_gain("leaky_relu", math.sqrt(5))
    entry = {
        "name": name,
        "kind": "linear" if isinstance(m, nn.Linear) else "conv",
        "shape": list(w.shape),
        "groups": getattr(m, "groups", 1),
        "bias": m.bias is not None,
        "fan_in": fan_in,
        "weight_bound": math.sqrt(3.0) * gain / math.sqrt(fan_in),
        "bias_bound": 1 / math.sqrt(fan_in),
        "weight_max_abs": w.abs().max().item(),
        "weight_std": w.std().item(),
    }
    if m.bias is not None:
        entry["bias_max_abs"] = m.bias.detach().abs().max().item()
    out["layers"].append(entry)
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "init.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
