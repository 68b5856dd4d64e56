#!/usr/bin/python3
"""Writes the parity fixtures of vision's transforms.

resize_parity.json: fastai's Resize (Squish, Crop, Pad), RandomResizedCrop
(a given training box, and the validation form) and CropPad, computed the way
fastai computes them on a PIL image: the integer crop box from fastai's
formulas, PIL crop, numpy/torchvision "reflect" or zero padding, then PIL's
bilinear resize. PIL runs on mode "F" (float32) images, one channel at a
time, so the reference has no 8-bit rounding.

augment_parity.json: fastai's aug_transforms pipeline for given draws: the
affine matrix flip @ rotate @ zoom with _prepare_mat's aspect correction,
F.affine_grid(align_corners=True), the perspective warp of find_coeffs and
apply_perspective, F.grid_sample(bilinear, reflection, align_corners=True),
then brightness and contrast in logit space. Everything runs in float64.

Run from this directory with Debian's python3 (PIL 9.4, PyTorch 1.13):

    /usr/bin/python3 gen_parity.py
"""
import json
import math
import operator

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def f32list(a):
    """Rounds to 7 significant digits: the tests compare to 1e-5."""
    return [float("%.7g" % v) for v in np.asarray(a, dtype=np.float32).ravel()]


def image8(rng, shape):
    """A random image of 8-bit levels: the fixture stores the levels, and
    both sides make the pixels as float32(level) / 255."""
    levels = rng.integers(0, 256, size=shape)
    return levels, (levels.astype(np.float32) / np.float32(255)).astype(np.float32)


# ---------------------------------------------------------------- resize

def crop_pad(arr, szw, szh, tlx, tly, pad_mode, resize_to=None):
    """fastai's _do_crop_pad on a PIL image, for one float channel."""
    H, W = arr.shape
    img = Image.fromarray(arr.astype(np.float32), mode="F")
    if tlx >= 0 or tly >= 0:
        cx, cy = max(tlx, 0), max(tly, 0)
        img = img.crop((cx, cy, min(cx + szw, W), min(cy + szh, H)))
    if tlx < 0 or tly < 0:
        px, py = max(-tlx, 0), max(-tly, 0)
        fx, fy = max(szw - W - px, 0), max(szh - H - py, 0)
        a = np.asarray(img)
        mode = "reflect" if pad_mode == "reflection" else "constant"
        a = np.pad(a, ((py, fy), (px, fx)), mode=mode)
        img = Image.fromarray(a.astype(np.float32), mode="F")
    if resize_to is not None:
        img = img.resize(resize_to, Image.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def fa_resize(arr, h, w, method, px, py):
    """fastai's Resize.encodes with pcts (px, py)."""
    H, W = arr.shape
    if method == "Squish":
        return crop_pad(arr, W, H, 0, 0, "reflection", (w, h))
    op = (operator.lt, operator.gt)[method == "Pad"]
    m = W / w if op(W / w, H / h) else H / h
    cpw, cph = int(m * w), int(m * h)
    tlx, tly = int(px * (W - cpw)), int(py * (H - cph))
    return crop_pad(arr, cpw, cph, tlx, tly, "reflection", (w, h))


def fa_rrc_box(arr, h, w, x0, y0, cw, ch):
    return crop_pad(arr, cw, ch, x0, y0, "zeros", (w, h))


def fa_rrc_valid(arr, h, w):
    H, W = arr.shape
    xtra = math.ceil(max(h, w) * 0.14 / 8) * 8
    fw, fh = w + xtra, h + xtra
    res = crop_pad(arr, W, H, 0, 0, "zeros", (fw, fh))
    return crop_pad(res, w, h, (fw - w) // 2, (fh - h) // 2, "zeros")


def fa_croppad(arr, h, w):
    H, W = arr.shape
    return crop_pad(arr, w, h, (W - w) // 2, (H - h) // 2, "zeros")


def resize_cases():
    rng = np.random.default_rng(4)
    images = [image8(rng, s) for s in [(2, 7, 10), (1, 12, 5), (3, 9, 9), (1, 3, 4)]]
    ops = []
    for h, w in [(4, 6), (15, 13), (5, 20), (2, 2)]:
        ops.append(dict(op="Squish", h=h, w=w, px=0.5, py=0.5))
    for h, w in [(5, 5), (8, 3), (4, 9), (10, 10)]:
        for px, py in [(0.5, 0.5), (0, 0), (1, 1), (0.3, 0.8)]:
            ops.append(dict(op="Crop", h=h, w=w, px=px, py=py))
    for h, w in [(6, 6), (20, 7), (5, 30), (3, 4)]:
        for px, py in [(0.5, 0.5), (0, 0), (1, 1), (0.25, 0.9)]:
            ops.append(dict(op="Pad", h=h, w=w, px=px, py=py))
    for h, w in [(5, 5), (16, 12), (3, 7)]:
        ops.append(dict(op="RRCValid", h=h, w=w))
    for h, w in [(5, 5), (9, 7), (2, 3), (12, 3)]:
        ops.append(dict(op="CropPad", h=h, w=w))
    cases = []
    for i, (_, img) in enumerate(images):
        C, H, W = img.shape
        boxes = [(0, 0, W, H), (1, 0, max(W - 2, 1), max(H - 1, 1)), (W // 3, H // 4, max(W // 2, 1), max(H // 2, 1))]
        img_ops = ops + [dict(op="RRCBox", h=h, w=w, x0=b[0], y0=b[1], cw=b[2], ch=b[3])
                         for b in boxes for h, w in [(6, 6), (3, 8)]]
        for o in img_ops:
            outs = []
            for c in range(C):
                a = img[c]
                if o["op"] in ("Squish", "Crop", "Pad"):
                    r = fa_resize(a, o["h"], o["w"], o["op"], o["px"], o["py"])
                elif o["op"] == "RRCValid":
                    r = fa_rrc_valid(a, o["h"], o["w"])
                elif o["op"] == "RRCBox":
                    r = fa_rrc_box(a, o["h"], o["w"], o["x0"], o["y0"], o["cw"], o["ch"])
                else:
                    r = fa_croppad(a, o["h"], o["w"])
                assert r.shape == (o["h"], o["w"]), (o, r.shape)
                outs.append(r)
            cases.append(dict(o, image=i, output=f32list(np.stack(outs))))
    return [dict(shape=list(lv.shape), levels=[int(v) for v in lv.ravel()]) for lv, _ in images], cases


# ---------------------------------------------------------------- augment

XS = [1, -1, 1, -1, -1, 1, 1, -1]
YS = [1, 1, -1, 1, -1, -1, 1, -1]
M0 = [1, 1, 1, 0, 1, 0, 0, 0]
M1 = [0, 0, 0, 1, 0, 1, 1, 1]


def find_coeffs(p1, p2):
    """fastai's find_coeffs for one image: maps p2 onto p1."""
    m = []
    for i in range(4):
        m.append([p2[i][0], p2[i][1], 1, 0, 0, 0, -p1[i][0] * p2[i][0], -p1[i][0] * p2[i][1]])
        m.append([0, 0, 0, p2[i][0], p2[i][1], 1, -p1[i][1] * p2[i][0], -p1[i][1] * p2[i][1]])
    A = torch.tensor(m, dtype=torch.float64)
    B = torch.tensor(p1, dtype=torch.float64).view(8, 1)
    return torch.linalg.solve(A, B)[:, 0]


def apply_perspective(coords, coeffs):
    sz = coords.shape
    coords = coords.view(sz[0], -1, 2)
    c = torch.cat([coeffs, torch.ones(1, dtype=coeffs.dtype)]).view(1, 3, 3)
    coords1 = coords @ c[..., :2].transpose(1, 2) + c[..., 2].unsqueeze(1)
    assert not (coords1[..., 2] == 0.).any()
    coords = coords1 / coords1[..., 2].unsqueeze(-1)
    return coords[..., :2].view(*sz)


def fa_augment(x, p):
    C, H, W = x.shape
    k = p["dihedral"]
    mat = torch.tensor([[XS[k] * M0[k], XS[k] * M1[k], 0],
                        [YS[k] * M1[k], YS[k] * M0[k], 0],
                        [0, 0, 1]], dtype=torch.float64)
    t = p["rotate"] * math.pi / 180
    mat = mat @ torch.tensor([[math.cos(t), math.sin(t), 0], [-math.sin(t), math.cos(t), 0], [0, 0, 1]], dtype=torch.float64)
    s = 1 / p["zoom"]
    mat = mat @ torch.tensor([[s, 0, (1 - s) * (2 * p["col"] - 1)], [0, s, (1 - s) * (2 * p["row"] - 1)], [0, 0, 1]], dtype=torch.float64)
    mat[0, 1] *= H / W
    mat[1, 0] *= W / H
    coords = F.affine_grid(mat[:2][None], (1, C, H, W), align_corners=True)
    if p["warpX"] != 0 or p["warpY"] != 0:
        xt, yt = p["warpX"], p["warpY"]
        orig = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
        targ = [[-1 - yt, -1 - xt], [-1 + yt, 1 + xt], [1 + yt, -1 + xt], [1 - yt, 1 - xt]]
        coords = apply_perspective(coords, find_coeffs(orig, targ))
    out = F.grid_sample(x[None], coords, mode="bilinear", padding_mode="reflection", align_corners=True)[0]
    if p["brightness"] != 0.5 or p["contrast"] != 1:
        b = p["brightness"]
        lx = torch.logit(out.clamp(1e-7, 1 - 1e-7))
        out = torch.sigmoid((lx + math.log(b / (1 - b))) * p["contrast"])
    return out


def augment_cases():
    rng = np.random.default_rng(7)
    shapes = [(3, 9, 7), (1, 8, 8), (2, 6, 10)]
    neutral = dict(dihedral=0, warpX=0.0, warpY=0.0, rotate=0.0, zoom=1.0, col=0.5, row=0.5, brightness=0.5, contrast=1.0)
    params = [dict(neutral)]
    for k in range(1, 8):
        params.append(dict(neutral, dihedral=k))
    params += [
        dict(neutral, rotate=9.3),
        dict(neutral, rotate=-40.0),
        dict(neutral, zoom=1.08, col=0.2, row=0.9),
        dict(neutral, zoom=0.7, col=0.6, row=0.1),
        dict(neutral, warpX=0.17),
        dict(neutral, warpY=-0.2),
        dict(neutral, warpX=-0.12, warpY=0.15),
        dict(neutral, dihedral=1, warpX=0.1, warpY=-0.05, rotate=-7.5, zoom=1.05, col=0.3, row=0.6),
        dict(neutral, dihedral=6, warpX=0.2, rotate=30.0, zoom=1.3, col=1.0, row=0.0),
        dict(neutral, brightness=0.58),
        dict(neutral, contrast=0.81),
        dict(neutral, dihedral=1, rotate=4.0, zoom=1.02, col=0.5, row=0.5, brightness=0.43, contrast=1.2),
    ]
    cases, images = [], []
    for i, shape in enumerate(shapes):
        lv, x = image8(rng, shape)
        images.append(dict(shape=list(shape), levels=[int(v) for v in lv.ravel()]))
        for p in params:
            out = fa_augment(torch.tensor(x, dtype=torch.float64), p)
            cases.append(dict(params=p, image=i, output=f32list(out.numpy())))
    return images, cases


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    torch.set_default_dtype(torch.float64)
    import PIL
    images, cases = resize_cases()
    dump("resize_parity.json", {"generator": "gen_parity.py", "pil": PIL.__version__, "images": images, "cases": cases})
    images, cases = augment_cases()
    dump("augment_parity.json", {"generator": "gen_parity.py", "torch": torch.__version__, "images": images, "cases": cases})
