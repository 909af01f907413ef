#!/usr/bin/python3
"""Writes the golden values the CIFAR model's Go tests check against,
computed by the reference PyTorch (Debian python3-torch 1.13).

Run from the repository root:  /usr/bin/python3 examples/cifar/testdata/gen_golden.py

The network below is the Go model of examples/cifar (dpn.go, model.go)
written in PyTorch, with the same parameter names. Nothing is random: every
parameter, buffer and input is a pattern (pat, mirrored by the Go tests)
whose values are multiples of 1/8 in [-1, 1], scaled as init() says.

Output: examples/cifar/testdata/golden.json with two cases:
  "small"  a small DPN (config below), batch 4: full outputs and losses of
           the training forward (batch statistics), of Encode (running
           statistics), the running statistics after the training forward,
           and per parameter a summary of its gradient (sum, sum of
           squares, six values at fixed positions);
  "dpn26"  the real configuration, batch 2: shapes, parameter count,
           losses, sums of the outputs and summaries of some gradients.
"""

import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

# One thread, as the Go test runs it: DPN26's early-layer gradients on these
# patterns are ill-conditioned (float32 runs with 1 and 2 threads differ by a
# few per cent there, as does float64), so the summation order must match.
torch.set_num_threads(1)

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
STRIDES = (1, 2, 1, 2)


def pat(shape, k, off):
    """((i*k + off) mod 17 - 8) / 8 for element i, in C order, float64."""
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    return ((i * k + off).remainder(17) - 8).div(8).reshape(shape)


class Bottleneck(nn.Module):
    def __init__(self, last, inp, out, dense, stride, groups, first):
        super().__init__()
        self.out = out
        self.conv1 = nn.Conv2d(last, inp, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(inp)
        self.conv2 = nn.Conv2d(inp, inp, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(inp)
        self.conv3 = nn.Conv2d(inp, out + dense, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out + dense)
        self.first = first
        if first:
            self.shortcut = nn.Conv2d(last, out + dense, 1, stride=stride, bias=False)
            self.shortcut_bn = nn.BatchNorm2d(out + dense)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        if self.first:
            x = self.shortcut_bn(self.shortcut(x))
        d = self.out
        return F.relu(torch.cat([x[:, :d] + h[:, :d], x[:, d:], h[:, d:]], 1))


class Trunk(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        last = 64
        for s in range(4):
            blocks = []
            for i in range(cfg["num_blocks"][s]):
                blocks.append(Bottleneck(last, cfg["in_planes"][s], cfg["out_planes"][s], cfg["dense_depth"][s],
                                         STRIDES[s] if i == 0 else 1, cfg["groups"], i == 0))
                last = cfg["out_planes"][s] + (i + 2) * cfg["dense_depth"][s]
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*blocks))
        self.channels = last

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        for s in range(4):
            h = getattr(self, "layer%d" % (s + 1))(h)
        return torch.flatten(F.avg_pool2d(h, 4), 1)


class Model(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.trunk = Trunk(cfg)
        self.student = Trunk(cfg)
        dim = self.trunk.channels * 4
        self.logit1 = nn.Linear(dim, 512)
        self.logit2 = nn.Linear(512, 256)
        self.logit3 = nn.Linear(256, 10)

    @staticmethod
    def normalize(images):
        return torch.cat([(images[:, c:c + 1] - MEAN[c]) / STD[c] for c in range(3)], 1)

    def logits(self, h):
        return F.log_softmax(self.logit3(F.relu(self.logit2(F.relu(self.logit1(h))))), 1)

    def encode(self, images):
        x = self.normalize(images)
        return self.trunk(x) + self.student(x)

    def forward(self, images, network, labels):
        x = self.normalize(images)
        features, student = self.trunk(x), self.student(x)
        local_output = features + student
        local_target = self.logits(local_output)
        network_target = self.logits(features + network)
        local_loss = F.nll_loss(local_target, labels)
        network_loss = F.nll_loss(network_target, labels)
        distillation = F.mse_loss(student, network.detach())
        return dict(local_output=local_output, local_target=local_target, network_target=network_target,
                    local_loss=local_loss, network_loss=network_loss, distillation_loss=distillation,
                    loss=local_loss + network_loss + distillation)


def state_names(model):
    return sorted(n for n in model.state_dict() if not n.endswith("num_batches_tracked"))


def init(model):
    """Sets every parameter and buffer, in sorted name order (index i), to a pattern."""
    state = model.state_dict()
    with torch.no_grad():
        for i, name in enumerate(state_names(model)):
            t = state[name]
            p = pat(list(t.shape), 7, i)
            if t.dim() >= 2:
                v = p * (1 / math.sqrt(t.numel() // t.shape[0]))
            elif name.endswith("running_var"):
                v = 1 + (p + 1) / 4
            elif name.endswith("running_mean"):
                v = p / 10
            elif name.endswith(".weight"):
                v = 1 + p / 4
            else:
                v = p / 4
            t.copy_(v.to(torch.float32))


def inputs(batch, dim):
    images = (pat([batch, 3, 32, 32], 5, 3) / 2 + 0.5).to(torch.float32)
    network = (pat([batch, dim], 3, 1) / 2 + 0.5).to(torch.float32)
    labels = torch.tensor([(3 * i) % 10 for i in range(batch)], dtype=torch.int64)
    return images, network, labels


def flat(t):
    return t.detach().reshape(-1).double().tolist()


def summary(t):
    """Sum, sum of squares and the values at six fixed positions."""
    v = t.detach().reshape(-1).double()
    n = v.numel()
    return {"sum": v.sum().item(), "sumsq": (v * v).sum().item(),
            "at": [v[(j * n) // 6].item() for j in range(6)]}


def run(cfg, batch, full):
    model = Model(cfg)
    init(model)
    dim = model.trunk.channels * 4
    images, network, labels = inputs(batch, dim)
    out = {"config": cfg, "batch": batch, "feature_dim": dim,
           "parameters": sum(p.numel() for p in model.parameters())}
    model.eval()
    with torch.no_grad():
        enc = model.encode(images)
    out["encode_shape"] = list(enc.shape)
    model.train()
    res = model(images, network, labels)
    res["loss"].backward()
    for k in ("local_loss", "network_loss", "distillation_loss", "loss"):
        out[k] = res[k].item()
    if full:
        out["encode"] = flat(enc)
        out["local_output"] = flat(res["local_output"])
        out["local_target"] = flat(res["local_target"])
        out["network_target"] = flat(res["network_target"])
        out["running"] = {n: summary(b) for n, b in model.named_buffers() if "running" in n}
        out["grads"] = {n: summary(p.grad) for n, p in model.named_parameters()}
    else:
        out["encode_sum"] = summary(enc)
        out["local_output_sum"] = summary(res["local_output"])
        out["local_target"] = flat(res["local_target"])
        named = dict(model.named_parameters())
        out["grads"] = {n: summary(named[n].grad) for n in (
            "trunk.conv1.weight", "trunk.layer3.0.conv2.weight", "student.layer4.1.conv3.weight",
            "student.layer1.0.shortcut_bn.weight", "logit1.weight", "logit3.bias")}
    return out


def main():
    small = {"in_planes": [32, 64, 64, 96], "out_planes": [16, 32, 48, 64], "num_blocks": [1, 2, 1, 2],
             "dense_depth": [4, 8, 4, 8], "groups": 32}
    dpn26 = {"in_planes": [96, 192, 384, 768], "out_planes": [256, 512, 1024, 2048], "num_blocks": [2, 2, 2, 2],
             "dense_depth": [16, 32, 24, 128], "groups": 32}
    golden = {"small": run(small, 4, True), "dpn26": run(dpn26, 2, False)}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
    with open(path, "w") as f:
        json.dump(golden, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
