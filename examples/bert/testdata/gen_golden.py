#!/usr/bin/python3
"""Writes examples/bert/testdata/golden.json: the BERT model's outputs and
parameter gradients computed by the reference PyTorch (Debian
python3-torch 1.13) through its twin, bench/python/bert_twin.py, for the
same weights and inputs as model_golden_test.go.

Run from the repository root:  /usr/bin/python3 examples/bert/testdata/gen_golden.py

Weights are never random: parameter i (in sorted name order) holds
pat(shape, 3 + 2*(i mod 7), i) * scale, with pat as in torch/testdata/gen_golden.py
(((j*k + off) mod 17 - 8) / 8 for element j). Dropout is 0.

Cases: "small" (vocabulary 40, hidden 8, 2 heads, intermediate 16, 2 layers,
sequences of 8): every output and every gradient in full. "real" (the
neuron's own sizes: vocabulary 30522, hidden 256, 2 heads, intermediate
512, 2 layers, sequences of 64): the outputs in full and, per parameter,
the sum and the sum of squares of its gradient.
"""

import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "bench", "python"))
from bert_twin import Twin  # noqa: E402

torch.set_num_threads(1)


def pat(shape, k, off, scale):
    n = 1
    for d in shape:
        n *= d
    j = torch.arange(n, dtype=torch.int64)
    v = ((j * k + off) % 17 - 8).to(torch.float64) / 8
    return (v * scale).reshape(shape).to(torch.float32)


def fill(model, scale):
    named = dict(model.named_parameters())
    with torch.no_grad():
        for i, name in enumerate(sorted(named)):
            named[name].copy_(pat(named[name].shape, 3 + 2 * (i % 7), i, scale))


def flat(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": t.reshape(-1).to(torch.float64).tolist()}


def case(out, prefix, model, x, network, labels, full_grads):
    model.train()
    enc = model.encode(x)
    local, net, dist, loss = model(x, network, labels)
    loss.backward()
    out[prefix + "/encode"] = flat(enc)
    out[prefix + "/local_target"] = flat(local)
    out[prefix + "/network_target"] = flat(net)
    out[prefix + "/distillation"] = flat(dist)
    out[prefix + "/loss"] = flat(loss)
    for name, q in sorted(model.named_parameters()):
        g = q.grad if q.grad is not None else torch.zeros_like(q)
        if full_grads:
            out[prefix + "/grad/" + name] = flat(g)
        else:
            g = g.to(torch.float64)
            out[prefix + "/gradstat/" + name] = flat(torch.stack([g.sum(), (g * g).sum()]))


def main():
    out = {}
    small = Twin(vocab=40, max_len=8, hidden=8, heads=2, inter=16, layers=2, p=0.0)
    fill(small, 0.25)
    x = torch.tensor([
        [[1, 5, 7, 2, 9, 2], [0, 0, 0, 0, 1, 1]],
        [[1, 3, 2, 0, 0, 0], [0, 0, 0, 0, 0, 0]],
        [[1, 39, 38, 2, 4, 2], [0, 0, 0, 0, 1, 1]],
    ])
    network = pat([3, 8], 5, 2, 0.5)
    labels = torch.tensor([0, 1, 1])
    case(out, "small", small, x, network, labels, True)

    real = Twin(p=0.0)
    fill(real, 0.05)
    x = torch.tensor([
        [[101, 7592, 1010, 2088, 999, 102, 2009, 102], [0, 0, 0, 0, 0, 0, 1, 1]],
        [[101, 1996, 4248, 102, 3899, 102, 0, 0], [0, 0, 0, 0, 1, 1, 0, 0]],
    ])
    network = pat([2, 256], 5, 2, 0.5)
    labels = torch.tensor([1, 0])
    case(out, "real", real, x, network, labels, False)

    path = os.path.join(ROOT, "examples", "bert", "testdata", "golden.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
