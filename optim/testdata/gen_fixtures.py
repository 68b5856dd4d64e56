"""Generate optim/testdata/fixtures.json: PyTorch 1.13 optimizer steps that
the Go tests of package optim must reproduce.

    cd optim/testdata && /usr/bin/python3 gen_fixtures.py

Three parameters (a weight, a bias-like vector, one more) start from seeded
normal values and take three steps of each case below with torch.optim,
from seeded gradients. Parameter 2 has no gradient at the second step (it is
skipped, as a frozen parameter is, and its step count does not advance).
The file holds the inputs, the parameters after every step and, after the
last step, each parameter's optimizer state under PyTorch's buffer names.

Hyper-parameters are written with fastgo's names: lr, mom (SGD momentum,
Adam beta1, RMSProp momentum), sqr_mom (Adam beta2, RMSProp alpha), eps, wd,
dampening, nesterov and centered (0 or 1). A case may split the parameters
into groups with their own overrides, as torch.optim param groups do.

Floats are written as the shortest decimal that round-trips the float32
value, so json-decoding into float32 gives the exact bits.
"""
import json

import numpy as np
import torch

SHAPES = [(3, 7), (3,), (4,)]  # 21 elements: SIMD bodies and tails on both sides
STEPS = 3
SKIP = {(1, 2)}  # (step, param) pairs with no gradient

CASES = [
    ("sgd", "SGD", {"lr": 0.1}, None),
    ("sgd_momentum_dampening_wd", "SGD", {"lr": 0.1, "mom": 0.9, "dampening": 0.1, "wd": 0.01}, None),
    ("sgd_nesterov_wd", "SGD", {"lr": 0.1, "mom": 0.9, "nesterov": 1, "wd": 0.01}, None),
    ("adam", "Adam", {"lr": 0.01, "mom": 0.9, "sqr_mom": 0.999, "eps": 1e-8, "wd": 0}, None),
    ("adam_wd_groups", "Adam", {"lr": 0.01, "mom": 0.9, "sqr_mom": 0.999, "eps": 1e-8, "wd": 0.01},
     [([0], {}), ([1, 2], {"lr": 0.005, "wd": 0})]),
    ("adamw", "AdamW", {"lr": 0.01, "mom": 0.9, "sqr_mom": 0.999, "eps": 1e-8, "wd": 0.01}, None),
    ("adamw_fastai", "AdamW", {"lr": 0.01, "mom": 0.9, "sqr_mom": 0.99, "eps": 1e-5, "wd": 0.01}, None),
    ("rmsprop", "RMSProp", {"lr": 0.01, "sqr_mom": 0.99, "eps": 1e-8, "wd": 0, "mom": 0, "centered": 0}, None),
    ("rmsprop_centered_momentum_wd", "RMSProp",
     {"lr": 0.01, "sqr_mom": 0.9, "eps": 1e-8, "wd": 0.01, "mom": 0.9, "centered": 1}, None),
]


def torch_kwargs(kind, h):
    """fastgo hyper-parameter names to torch.optim keyword arguments."""
    names = {"lr": "lr", "eps": "eps", "wd": "weight_decay", "dampening": "dampening"}
    kw = {names[k]: v for k, v in h.items() if k in names}
    if kind == "SGD":
        if "mom" in h:
            kw["momentum"] = h["mom"]
        if "nesterov" in h:
            kw["nesterov"] = bool(h["nesterov"])
    elif kind in ("Adam", "AdamW"):
        if "mom" in h or "sqr_mom" in h:
            kw["betas"] = (h["mom"], h["sqr_mom"])
    elif kind == "RMSProp":
        if "mom" in h:
            kw["momentum"] = h["mom"]
        if "sqr_mom" in h:
            kw["alpha"] = h["sqr_mom"]
        if "centered" in h:
            kw["centered"] = bool(h["centered"])
    return kw


OPTS = {"SGD": torch.optim.SGD, "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW,
        "RMSProp": torch.optim.RMSprop}


def f32(t):
    return [float(str(np.float32(v))) for v in t.detach().reshape(-1).numpy()]


def main():
    g = torch.Generator().manual_seed(3)
    init = [torch.randn(s, generator=g) for s in SHAPES]
    grads = [[torch.randn(s, generator=g) for s in SHAPES] for _ in range(STEPS)]
    out = {
        "torch": torch.__version__,
        "shapes": [list(s) for s in SHAPES],
        "init": [f32(t) for t in init],
        "grads": [[None if (k, i) in SKIP else f32(gr) for i, gr in enumerate(step)]
                  for k, step in enumerate(grads)],
        "cases": [],
    }
    for name, kind, hyper, groups in CASES:
        params = [t.clone().requires_grad_(True) for t in init]
        if groups is None:
            opt = OPTS[kind]([{"params": params}], **torch_kwargs(kind, hyper))
        else:
            opt = OPTS[kind]([dict(params=[params[i] for i in idx], **torch_kwargs(kind, over))
                              for idx, over in groups], **torch_kwargs(kind, hyper))
        after = []
        for k in range(STEPS):
            for i, p in enumerate(params):
                p.grad = None if (k, i) in SKIP else grads[k][i].clone()
            opt.step()
            after.append([f32(p) for p in params])
        state = []
        for p in params:
            st = opt.state.get(p, {})
            entry = {}
            for key, v in sorted(st.items()):
                if key == "step":
                    entry["step"] = int(v.item()) if torch.is_tensor(v) else int(v)
                elif v is not None:
                    entry[key] = f32(v)
            state.append(entry)
        case = {"name": name, "kind": kind, "hyper": hyper, "after": after, "state": state}
        if groups is not None:
            case["groups"] = [{"params": idx, "hyper": over} for idx, over in groups]
        out["cases"].append(case)
    with open("fixtures.json", "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main()
