#!/usr/bin/python3
"""Writes parity.safetensors: PyTorch 1.13 outputs and gradients that fastgo's layers must match.

    /usr/bin/python3 layers/testdata/gen_parity.py   # from the repository root

Every case is stored under a prefix "<case>." with:
  <case>.x             the input (float32)
  <case>.p.<name>      each parameter and buffer, PyTorch state_dict names (before the forward)
  <case>.out           the output
  <case>.r             a random projection; the differentiated scalar is sum(out * r)
                       (for the model cases and the losses: the loss itself, r is absent)
  <case>.gx            d scalar / d x
  <case>.g.<name>      d scalar / d parameter
  <case>.after.<name>  buffers after the forward (BatchNorm in training mode)
  <case>.y             integer targets (I64) where the case has them
The metadata "cases" lists the cases and "config.<case>" their hyper-parameters as JSON;
"order.<case>" lists a module case's state_dict names in PyTorch's order, and "cond.<case>" the
worst relative difference, over the output and every gradient, between PyTorch float32 and the
same case run in float64. Every case must stay below 2e-5: a fixture whose float32 reference is
itself further from the exact result than that is ill-conditioned, and a 1e-4 parity bar against
it would not mean what it says. The script fails on such a case.
"""
import copy
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(1)
out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parity.safetensors")
tensors, meta, cases = {}, {}, []


def put(name, t):
    tensors[name] = t.detach().contiguous().clone()


def case(name, module, x, config, y=None, loss_fn=None, save_params=True):
    """Runs module on x (module may be a function of x), records output and gradients.

    With save_params False the module's state is not stored (the config says where it comes from)."""
    cases.append(name)
    meta["config." + name] = json.dumps(config, sort_keys=True)
    x = x.clone().requires_grad_(True)
    put(name + ".x", x)
    params = {}
    m64 = module
    if isinstance(module, nn.Module):
        if save_params:
            for k, v in module.state_dict().items():
                put(name + ".p." + k, v)
        meta["order." + name] = ",".join(module.state_dict().keys())
        params = {k: p for k, p in module.named_parameters() if p.requires_grad}
        m64 = copy.deepcopy(module).double()  # before the forward moves any buffer
    out = module(x)
    put(name + ".out", out)
    r = None
    if loss_fn is not None:
        scalar = loss_fn(out)
    else:
        r = torch.rand(out.shape) * 2 - 1
        put(name + ".r", r)
        scalar = (out * r).sum()
    if y is not None:
        tensors[name + ".y"] = y.to(torch.int64)
    scalar.backward()
    put(name + ".gx", x.grad)
    for k, p in params.items():
        put(name + ".g." + k, p.grad)
    if isinstance(module, nn.Module) and save_params:
        for k, b in module.named_buffers():
            tensors[name + ".after." + k] = b.detach().clone()
    # The same case in float64: how far is the float32 reference from exact?
    x64 = x.detach().double().requires_grad_(True)
    out64 = m64(x64)
    s64 = loss_fn(out64) if loss_fn is not None else (out64 * r.double()).sum()
    s64.backward()
    pairs = [(out.detach(), out64.detach()), (x.grad, x64.grad)]
    if isinstance(m64, nn.Module):
        p64 = dict(m64.named_parameters())
        pairs += [(p.grad, p64[k].grad) for k, p in params.items()]
    # Relative to the float64 tensor's largest magnitude; a gradient that is exactly 0 in exact
    # arithmetic (a conv bias before a train-mode BatchNorm) is compared absolutely instead.
    worst = max(float((a.double() - b).abs().max()) / (float(b.abs().max()) if float(b.abs().max()) > 1e-10 else 1.0)
                for a, b in pairs)
    meta["cond." + name] = "%.3g" % worst
    assert worst < 2e-5, "%s is ill-conditioned: PyTorch float32 and float64 differ by %.2e" % (name, worst)


# ---- layers
case("linear", nn.Linear(5, 3), torch.randn(4, 5), {"in": 5, "out": 3, "bias": True})
case("linear_nobias", nn.Linear(6, 2, bias=False), torch.randn(3, 6), {"in": 6, "out": 2, "bias": False})
case("conv_s2p1", nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.randn(2, 3, 7, 7),
     {"in": 3, "out": 4, "k": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 1, "bias": True})
case("conv_groups_dil", nn.Conv2d(4, 6, 3, stride=1, padding=2, dilation=2, groups=2, bias=False),
     torch.randn(2, 4, 6, 5),
     {"in": 4, "out": 6, "k": 3, "stride": 1, "padding": 2, "dilation": 2, "groups": 2, "bias": False})
case("conv_depthwise", nn.Conv2d(3, 3, 3, padding=1, groups=3), torch.randn(2, 3, 5, 5),
     {"in": 3, "out": 3, "k": 3, "stride": 1, "padding": 1, "dilation": 1, "groups": 3, "bias": True})
case("conv_1x1", nn.Conv2d(5, 7, 1, stride=2, bias=False), torch.randn(2, 5, 6, 6),
     {"in": 5, "out": 7, "k": 1, "stride": 2, "padding": 0, "dilation": 1, "groups": 1, "bias": False})

bn = nn.BatchNorm2d(3)
with torch.no_grad():
    bn.weight.uniform_(0.5, 1.5)
    bn.bias.uniform_(-0.5, 0.5)
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
bn.train()
case("bn2d_train", bn, torch.randn(4, 3, 5, 5) * 2 + 1, {"features": 3, "training": True, "momentum": 0.1, "eps": 1e-5})
bn_eval = nn.BatchNorm2d(3)
bn_eval.load_state_dict(bn.state_dict())
bn_eval.eval()
case("bn2d_eval", bn_eval, torch.randn(4, 3, 5, 5), {"features": 3, "training": False, "momentum": 0.1, "eps": 1e-5})
bn1 = nn.BatchNorm1d(6)
bn1.train()
case("bn1d_train", bn1, torch.randn(8, 6), {"features": 6, "training": True, "momentum": 0.1, "eps": 1e-5})

case("maxpool_k3s2p1", lambda x: F.max_pool2d(x, 3, 2, 1), torch.randn(2, 3, 7, 7), {"k": 3, "stride": 2, "padding": 1})
case("maxpool_k2", lambda x: F.max_pool2d(x, 2), torch.randn(2, 3, 6, 6), {"k": 2, "stride": 2, "padding": 0})
case("avgpool_k3s2p1", lambda x: F.avg_pool2d(x, 3, 2, 1), torch.randn(2, 3, 7, 7), {"k": 3, "stride": 2, "padding": 1})
case("adaptive_avg_3x2", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), torch.randn(2, 3, 7, 5), {"h": 3, "w": 2})
case("adaptive_max_3x2", lambda x: F.adaptive_max_pool2d(x, (3, 2)), torch.randn(2, 3, 7, 5), {"h": 3, "w": 2})
case("relu", F.relu, torch.randn(3, 7), {})
case("leaky_relu", lambda x: F.leaky_relu(x, 0.1), torch.randn(3, 7), {"slope": 0.1})
case("gelu", F.gelu, torch.randn(3, 7), {})
case("sigmoid", torch.sigmoid, torch.randn(3, 7), {})
case("tanh", torch.tanh, torch.randn(3, 7), {})
case("softmax", lambda x: F.softmax(x, 1), torch.randn(3, 7), {"dim": 1})
case("log_softmax", lambda x: F.log_softmax(x, 1), torch.randn(3, 7), {"dim": 1})

# ---- losses: the output is the loss, differentiated directly
y5 = torch.randint(0, 7, (5,))
for red in ["mean", "sum", "none"]:
    case("ce_" + red, lambda x, red=red: F.cross_entropy(x, y5, reduction=red), torch.randn(5, 7),
         {"reduction": red, "label_smoothing": 0.0}, y=y5,
         loss_fn=(lambda o: o.sum()) if red == "none" else (lambda o: o))
case("ce_smooth", lambda x: F.cross_entropy(x, y5, label_smoothing=0.1), torch.randn(5, 7),
     {"reduction": "mean", "label_smoothing": 0.1}, y=y5, loss_fn=lambda o: o)
case("nll", lambda x: F.nll_loss(F.log_softmax(x, 1), y5), torch.randn(5, 7), {"reduction": "mean"}, y=y5,
     loss_fn=lambda o: o)
tgt = torch.randn(4, 3)
put("mse.target", tgt)
case("mse", lambda x: F.mse_loss(x, tgt.to(x.dtype)), torch.randn(4, 3), {"reduction": "mean"}, loss_fn=lambda o: o)
btgt = torch.rand(4, 3)
put("bce.target", btgt)
case("bce", lambda x: F.binary_cross_entropy_with_logits(x, btgt.to(x.dtype)), torch.randn(4, 3) * 3, {"reduction": "mean"},
     loss_fn=lambda o: o)
ktgt = F.softmax(torch.randn(4, 5), 1)
put("kl.target", ktgt)
case("kl", lambda x: F.kl_div(F.log_softmax(x, 1), ktgt.to(x.dtype), reduction="batchmean"), torch.randn(4, 5),
     {"reduction": "batchmean"}, loss_fn=lambda o: o)


# ---- models
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


class BasicBlock(nn.Module):
    """torchvision's BasicBlock, names included."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class TinyResNet(nn.Module):
    """torchvision's ResNet layout (conv1 7x7/2, bn1, relu, maxpool 3/2, layer1..4, avgpool, fc), one block per stage."""

    def __init__(self, widths=(8, 16, 24, 32), in_ch=3, num_classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = widths[0]
        for i, (w, s) in enumerate(zip(widths, (1, 2, 2, 2))):
            setattr(self, "layer%d" % (i + 1), nn.Sequential(BasicBlock(cin, w, s)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


ys = torch.randint(0, 10, (4,))
m = SmallCNN()
m.train()
case("smallcnn_train", m, torch.rand(4, 1, 28, 28), {"training": True}, y=ys, loss_fn=lambda o: F.cross_entropy(o, ys))
# The attack case: the trained-mode model above, after its forward (weights smallcnn_train.p.*, buffers
# smallcnn_train.after.*), in eval mode with frozen parameters: only the input gradient is computed.
m.eval()
for p in m.parameters():
    p.requires_grad_(False)
case("smallcnn_eval", m, torch.rand(4, 1, 28, 28), {"training": False, "state": "smallcnn_train"}, y=ys,
     loss_fn=lambda o: F.cross_entropy(o, ys), save_params=False)
yr = torch.randint(0, 5, (4,))
r = TinyResNet()
with torch.no_grad():  # non-trivial BN buffers and affine params
    for mod in r.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.weight.uniform_(0.5, 1.5)
            mod.bias.uniform_(-0.2, 0.2)
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
r.train()
# 64x64 inputs, so layer4's train-mode BatchNorm sees 4x2x2 = 16 values per channel. With fewer
# (32x32 and batch 3 give 3), its backward projects out nearly the whole gradient and float32
# rounding is amplified past 1e-4 in PyTorch itself; the check below keeps the case well-conditioned.
xr = torch.rand(4, 3, 64, 64)
case("tinyresnet_train", r, xr, {"training": True, "widths": [8, 16, 24, 32], "classes": 5},
     y=yr, loss_fn=lambda o: F.cross_entropy(o, yr))
r64 = TinyResNet().double()
r64.load_state_dict({k[len("tinyresnet_train.p."):]: v for k, v in tensors.items() if k.startswith("tinyresnet_train.p.")})
r64.train()
x64 = xr.double().requires_grad_(True)
F.cross_entropy(r64(x64), yr).backward()
worst = max([(x64.grad - tensors["tinyresnet_train.gx"].double()).abs().max() / x64.grad.abs().max()] +
            [(p.grad - tensors["tinyresnet_train.g." + k].double()).abs().max() / p.grad.abs().max()
             for k, p in r64.named_parameters()])
assert worst < 2e-5, "tinyresnet_train is ill-conditioned: float32 and float64 PyTorch differ by %.2e" % worst
print("tinyresnet_train: PyTorch float32 vs float64 worst relative difference %.2e" % worst)

# ---- more layers and losses (appended, so that the draws above do not move)
case("conv_dil_s2", nn.Conv2d(3, 5, 3, stride=2, padding=1, dilation=2), torch.randn(2, 3, 9, 8),
     {"in": 3, "out": 5, "k": 3, "stride": 2, "padding": 1, "dilation": 2, "groups": 1, "bias": True})
bn1e = nn.BatchNorm1d(5)
with torch.no_grad():
    bn1e.weight.uniform_(0.5, 1.5)
    bn1e.bias.uniform_(-0.5, 0.5)
    bn1e.running_mean.uniform_(-1, 1)
    bn1e.running_var.uniform_(0.5, 2)
bn1e.eval()
case("bn1d_eval", bn1e, torch.randn(6, 5), {"features": 5, "training": False, "momentum": 0.1, "eps": 1e-5})
case("avgpool_k3s2p1_nopad", lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False), torch.randn(2, 3, 7, 6),
     {"k": 3, "stride": 2, "padding": 1, "count_include_pad": False})
case("adaptive_concat", lambda x: torch.cat([F.adaptive_max_pool2d(x, 1), F.adaptive_avg_pool2d(x, 1)], 1),
     torch.randn(2, 3, 5, 4), {"size": 1})
nmean, nstd = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
put("normalize.mean", nmean)
put("normalize.std", nstd)
case("normalize", lambda x: (x - nmean.to(x.dtype).view(1, 3, 1, 1)) / nstd.to(x.dtype).view(1, 3, 1, 1),
     torch.rand(2, 3, 4, 4), {})
seq = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                    nn.Linear(4, 3))
seq.train()
case("sequential", seq, torch.randn(3, 2, 5, 5), {"training": True})
y6 = torch.tensor([3, -100, 0, 6, -100, 2])
case("ce_ignore", lambda x: F.cross_entropy(x, y6), torch.randn(6, 7), {"reduction": "mean", "ignore_index": -100},
     y=y6, loss_fn=lambda o: o)
cw = torch.rand(7) + 0.5
put("ce_weight_smooth.weight", cw)
case("ce_weight_smooth", lambda x: F.cross_entropy(x, y5, weight=cw.to(x.dtype), label_smoothing=0.2, reduction="sum"),
     torch.randn(5, 7), {"reduction": "sum", "label_smoothing": 0.2}, y=y5, loss_fn=lambda o: o)
case("ce_weight_mean", lambda x: F.cross_entropy(x, y5, weight=cw.to(x.dtype)), torch.randn(5, 7),
     {"reduction": "mean", "label_smoothing": 0.0}, y=y5, loss_fn=lambda o: o)
put("nll_weight_ignore.weight", cw)
case("nll_weight_ignore", lambda x: F.nll_loss(F.log_softmax(x, 1), y5, weight=cw.to(x.dtype), ignore_index=int(y5[0])),
     torch.randn(5, 7), {"reduction": "mean", "ignore_index": int(y5[0])}, y=y5, loss_fn=lambda o: o)
pw = torch.rand(3) * 2 + 0.5
put("bce_posweight.pos_weight", pw)
btgt2 = torch.rand(4, 3)
put("bce_posweight.target", btgt2)
case("bce_posweight", lambda x: F.binary_cross_entropy_with_logits(x, btgt2.to(x.dtype), pos_weight=pw.to(x.dtype),
                                                                   reduction="sum"),
     torch.randn(4, 3) * 3, {"reduction": "sum"}, loss_fn=lambda o: o)
mtgt = torch.randn(3, 4)
put("mse_none.target", mtgt)
case("mse_none", lambda x: F.mse_loss(x, mtgt.to(x.dtype), reduction="none"), torch.randn(3, 4), {"reduction": "none"})
ktgt2 = F.softmax(torch.randn(3, 6), 1)
put("kl_sum.target", ktgt2)
case("kl_sum", lambda x: F.kl_div(F.log_softmax(x, 1), ktgt2.to(x.dtype), reduction="sum"), torch.randn(3, 6),
     {"reduction": "sum"}, loss_fn=lambda o: o)
print("worst float32 vs float64 relative difference per case:",
      ", ".join("%s %s" % (c, meta["cond." + c]) for c in cases))

# ---- write (the minimal safetensors writer of shared/bench/torch_w2_w3.py)
meta["cases"] = ",".join(cases)
dt = {torch.float32: "F32", torch.int64: "I64"}
header, blobs, off = {"__metadata__": meta}, [], 0
for name in sorted(tensors):
    t = tensors[name]
    b = t.cpu().contiguous().numpy().tobytes()
    header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
with open(out_path, "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
print("wrote %s: %d cases, %d tensors, %d bytes" % (out_path, len(cases), len(tensors), 8 + len(h) + off))
