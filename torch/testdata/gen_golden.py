#!/usr/bin/python3
"""Writes the golden values the Go tests of torch, torch/nn and torch/optim
check against, computed by the reference PyTorch (Debian python3-torch 1.13).

Run from the repository root:  /usr/bin/python3 torch/testdata/gen_golden.py

Inputs are never random: every tensor is built by pat() (mirrored by
testutil.Pat in torch/internal/testutil), whose values are multiples of 1/8
in [-1, 1], exact in float32. Within 17 consecutive elements they are
distinct, so sorting and arg-max have no ties there. Random ops are checked
only after torch.manual_seed, which libtorch shares with the Go package.

Output: torch/testdata/golden.json, torch/nn/testdata/golden.json,
torch/optim/testdata/golden.json; each maps a case name to
{"shape": [...], "data": [...]} (data flattened in C order; bools as 0/1),
or, for name lists, to {"names": [...]}. Also torch/testdata/pytorch_save.pt,
a file written by torch.save, which the Go package must refuse cleanly.
"""

import json
import math
import os

import torch
import torch.nn.functional as F

torch.set_num_threads(1)


def pat(shape, k=7, off=0, dtype=torch.float32):
    """((i*k + off) mod 17 - 8) / 8 for element i, in C order."""
    n = math.prod(shape)
    vals = [(((i * k + off) % 17) - 8) / 8 for i in range(n)]
    return torch.tensor(vals, dtype=torch.float64).reshape(shape).to(dtype)


class Golden:
    def __init__(self):
        self.cases = {}

    def put(self, name, t):
        assert name not in self.cases, name
        t = torch.as_tensor(t).detach()
        if t.dtype == torch.bool:
            t = t.to(torch.int64)
        data = t.reshape(-1).tolist()
        self.cases[name] = {"shape": list(t.shape), "data": data}

    def names(self, name, names):
        self.cases[name] = {"names": list(names)}

    def write(self, path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.cases, f, indent=None, separators=(",", ":"), sort_keys=True)
            f.write("\n")


def tensor_cases(g):
    # Random numbers: the generator is libtorch's, shared with the Go package.
    torch.manual_seed(42)
    g.put("rand_seed42", torch.rand(2, 3))
    g.put("randn_after_rand_seed42", torch.randn(20))
    torch.manual_seed(7)
    g.put("randint_seed7", torch.randint(0, 10, (6,)))
    g.put("rand_f64_after_randint_seed7", torch.rand(4, dtype=torch.float64))

    # Arithmetic and broadcasting.
    a = pat([2, 3], 7, 0)
    b = pat([3], 5, 1)
    c = pat([2, 1], 3, 2)
    g.put("add_bcast", a + b)
    g.put("sub_bcast", a - c)
    g.put("mul_bcast", a * b)
    g.put("div_bcast", a / (b.abs() + 0.5))
    g.put("pow_tensor", (a.abs() + 1) ** b)
    g.put("maximum", torch.maximum(a, b))
    g.put("minimum", torch.minimum(a, c))
    g.put("remainder", torch.remainder(a * 4, b.abs() + 1))
    g.put("add_scalar", a + 1.5)
    g.put("sub_scalar", a - 0.25)
    g.put("rsub_scalar", 3 - a)
    g.put("mul_scalar", a * -2)
    g.put("div_scalar", a / 4)
    g.put("pow_scalar", (a.abs() + 1) ** 1.5)
    g.put("clamp_min", a.clamp_min(-0.25))
    g.put("clamp_max", a.clamp_max(0.25))
    g.put("leaky_relu", F.leaky_relu(a, 0.1))
    g.put("neg", -a)
    g.put("exp", a.exp())
    g.put("log", (a.abs() + 1).log())
    g.put("sqrt", (a.abs() + 1).sqrt())
    g.put("rsqrt", (a.abs() + 1).rsqrt())
    g.put("abs", a.abs())
    g.put("sign", a.sign())
    g.put("floor", (a * 3).floor())
    g.put("square", a.square())
    g.put("sin", a.sin())
    g.put("cos", a.cos())

    # Matrix products.
    g.put("matmul_bcast", pat([2, 3, 4], 5, 3) @ pat([4, 5], 3, 1))
    g.put("matmul_mv", pat([3, 4], 7, 0) @ pat([4], 5, 2))
    g.put("matmul_2d", pat([3, 4], 7, 0) @ pat([4, 2], 3, 5))
    g.put("bmm", torch.bmm(pat([2, 3, 4], 7, 1), pat([2, 4, 2], 5, 0)))
    g.put("matmul_f64", pat([3, 4], 7, 0, torch.float64) @ pat([4, 2], 3, 5, torch.float64))

    # Reductions.
    r = pat([2, 3, 4], 11, 4)
    g.put("sum_all", r.sum())
    g.put("sum_1", r.sum(1))
    g.put("sum_0_2", r.sum((0, 2)))
    g.put("sum_keep_1", r.sum(1, keepdim=True))
    g.put("mean_all", r.mean())
    g.put("mean_2", r.mean(2))
    g.put("mean_keep_0", r.mean(0, keepdim=True))
    g.put("max_all", r.amax())
    g.put("max_1", r.amax(1))
    g.put("min_0", r.amin(0))
    g.put("prod_2", r.prod(2))
    g.put("norm_all", r.norm())
    g.put("norm_1", r.norm(dim=1))
    g.put("var_2", r.var(2))
    g.put("std_1", r.std(1))
    g.put("cumsum_2", r.cumsum(2))
    d = pat([3, 5], 7, 2)  # 15 distinct values: no ties
    g.put("argmax_1", d.argmax(1))
    g.put("argmax_0_keep", d.argmax(0, keepdim=True))
    g.put("argmin_1", d.argmin(1))
    g.put("argmax_all", d.argmax())

    # Shapes.
    g.put("permute_201", r.permute(2, 0, 1).contiguous())
    g.put("transpose_02", r.transpose(0, 2))
    g.put("t_2d", a.t())
    g.put("flatten_1_2", r.flatten(1, 2))
    g.put("view_m1_4", r.view(-1, 4))
    g.put("reshape_4_m1", r.permute(1, 0, 2).reshape(4, -1))
    g.put("narrow_2_1_2", r.narrow(2, 1, 2))
    g.put("expand", c.expand(2, 4))
    g.put("repeat", a.repeat(2, 1))

    # Joining and splitting.
    g.put("cat_0", torch.cat([a, pat([1, 3], 3, 1)], 0))
    g.put("cat_1", torch.cat([a, pat([2, 2], 5, 2)], 1))
    g.put("stack_1", torch.stack([a, a * 2], 1))
    for i, part in enumerate(r.split(3, 2)):
        g.put(f"split_3_2_{i}", part)
    for i, part in enumerate(r.chunk(2, 1)):
        g.put(f"chunk_2_1_{i}", part)

    # Indexing.
    x = pat([4, 3], 7, 0)  # 12 distinct values
    g.put("index_select", x.index_select(0, torch.tensor([2, 0, 2])))
    g.put("gather", x.gather(1, torch.tensor([[0, 2], [1, 1], [2, 0], [0, 0]])))
    g.put("scatter", x.scatter(1, torch.tensor([[0], [2], [1], [0]]), pat([4, 1], 5, 3)))
    g.put("index_add", x.index_add(0, torch.tensor([0, 2, 0]), pat([3, 3], 5, 2)))
    g.put("nonzero", (x > 0.2).nonzero())
    g.put("masked_fill", x.masked_fill(x < 0, -9))
    g.put("where", torch.where(x > 0, x, pat([3], 3, 1)))
    v, i = x.topk(2, 1)
    g.put("topk_values", v)
    g.put("topk_indices", i)
    v, i = x.topk(3, 0, largest=False)
    g.put("topk_small_values", v)
    g.put("topk_small_indices", i)
    v, i = x.sort(0)
    g.put("sort_0_values", v)
    g.put("sort_0_indices", i)
    v, i = x.sort(1, descending=True)
    g.put("sort_1_desc_values", v)
    g.put("sort_1_desc_indices", i)

    # Comparisons.
    g.put("eq", a == pat([2, 3], 5, 3))
    g.put("ne", a != pat([2, 3], 5, 3))
    g.put("lt", a < b)
    g.put("le", a <= b)
    g.put("gt", a > b)
    g.put("ge", a >= b)
    g.put("gt_scalar", a > 0)
    g.put("le_scalar", a <= -0.5)
    g.put("logical_and", (a > 0) & (b > 0))
    g.put("logical_or", (a > 0) | (b > 0))
    g.put("logical_not", ~(a > 0))

    # Activations.
    s = pat([3, 5], 7, 1)
    g.put("relu", s.relu())
    g.put("gelu", F.gelu(s))
    g.put("tanh", s.tanh())
    g.put("sigmoid", s.sigmoid())
    g.put("softmax_1", s.softmax(1))
    g.put("softmax_0", s.softmax(0))
    g.put("log_softmax_1", s.log_softmax(1))

    # Convolution and pooling.
    x = pat([2, 3, 5, 5], 5, 0)
    w = pat([4, 3, 3, 3], 3, 1)
    bias = pat([4], 7, 2)
    g.put("conv2d", F.conv2d(x, w, bias))
    g.put("conv2d_s2_p1", F.conv2d(x, w, bias, stride=2, padding=1))
    g.put("conv2d_nobias", F.conv2d(x, w))
    g.put("conv2d_g2_d2_p2",
          F.conv2d(pat([1, 4, 5, 5], 3, 2), pat([4, 2, 3, 3], 5, 1), None,
                   stride=1, padding=2, dilation=2, groups=2))
    p = pat([1, 2, 6, 6], 5, 3)
    g.put("max_pool_k2", F.max_pool2d(p, 2))
    g.put("max_pool_k3_s2_p1", F.max_pool2d(p, 3, 2, 1))
    g.put("avg_pool_k2", F.avg_pool2d(p, 2))
    g.put("avg_pool_k3_s1_p1", F.avg_pool2d(p, 3, 1, 1))
    g.put("adaptive_avg_4_3", F.adaptive_avg_pool2d(p, (4, 3)))
    g.put("adaptive_max_2_2", F.adaptive_max_pool2d(p, (2, 2)))
    g.put("adaptive_avg_1_1", F.adaptive_avg_pool2d(p, (1, 1)))

    # Normalisation.
    x = pat([4, 3, 2, 2], 7, 0)
    w = pat([3], 5, 1) + 1.5
    bias = pat([3], 3, 2)
    rm, rv = torch.zeros(3), torch.ones(3)
    g.put("batch_norm_train", F.batch_norm(x, rm, rv, w, bias, True, 0.1, 1e-5))
    g.put("batch_norm_train_running_mean", rm)
    g.put("batch_norm_train_running_var", rv)
    rm2, rv2 = pat([3], 3, 0), pat([3], 5, 4).abs() + 0.5
    g.put("batch_norm_eval", F.batch_norm(x, rm2, rv2, w, bias, False, 0.1, 1e-5))
    x = pat([2, 3, 4], 7, 3)
    g.put("layer_norm_4", F.layer_norm(x, [4], pat([4], 5, 0) + 1.5, pat([4], 3, 1), 1e-5))
    g.put("layer_norm_3_4", F.layer_norm(x, [3, 4], None, None, 1e-5))

    # Embedding, with the gradient of a padding row left at zero.
    w = pat([5, 3], 7, 0).requires_grad_()
    ids = torch.tensor([[0, 4], [2, 2]])
    e = F.embedding(ids, w, padding_idx=2)
    g.put("embedding", e)
    (e * pat([2, 2, 3], 5, 1)).sum().backward()
    g.put("embedding_pad2_grad", w.grad)

    # Losses.
    logits = pat([4, 5], 7, 0)
    tgt = torch.tensor([1, 0, 4, 2])
    lp = logits.log_softmax(1)
    g.put("nll_mean", F.nll_loss(lp, tgt))
    g.put("nll_sum", F.nll_loss(lp, tgt, reduction="sum"))
    g.put("nll_none", F.nll_loss(lp, tgt, reduction="none"))
    g.put("cross_entropy_mean", F.cross_entropy(logits, tgt))
    g.put("cross_entropy_none", F.cross_entropy(logits, tgt, reduction="none"))
    g.put("mse_mean", F.mse_loss(pat([2, 3], 7, 0), pat([2, 3], 5, 1)))
    g.put("mse_sum", F.mse_loss(pat([2, 3], 7, 0), pat([2, 3], 5, 1), reduction="sum"))
    g.put("mse_none", F.mse_loss(pat([2, 3], 7, 0), pat([2, 3], 5, 1), reduction="none"))

    # Gradients of a small network, float64.
    x = pat([3, 4], 7, 0, torch.float64).requires_grad_()
    w = pat([2, 4], 5, 1, torch.float64).requires_grad_()
    bias = pat([2], 3, 2, torch.float64).requires_grad_()
    y = F.linear(x, w, bias).tanh()
    loss = F.cross_entropy(y, torch.tensor([1, 0, 1])) + (x.sigmoid() * x).sum()
    loss.backward()
    g.put("net_loss", loss)
    g.put("net_grad_x", x.grad)
    g.put("net_grad_w", w.grad)
    g.put("net_grad_b", bias.grad)
    # backward with a supplied gradient.
    x = pat([2, 3], 7, 0).requires_grad_()
    y = x.square() * 3 + x
    y.backward(pat([2, 3], 5, 1))
    g.put("backward_with_grad", x.grad)
    # conv2d gradients.
    x = pat([1, 2, 4, 4], 5, 0).requires_grad_()
    w = pat([3, 2, 3, 3], 3, 1).requires_grad_()
    F.conv2d(x, w, padding=1).relu().sum().backward()
    g.put("conv2d_grad_x", x.grad)
    g.put("conv2d_grad_w", w.grad)


def nn_cases(g):
    # A Sequential MLP whose parameters are set from patterns.
    seq = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    with torch.no_grad():
        seq[0].weight.copy_(pat([3, 4], 7, 0))
        seq[0].bias.copy_(pat([3], 5, 1))
        seq[2].weight.copy_(pat([2, 3], 3, 2))
        seq[2].bias.copy_(pat([2], 7, 3))
    g.names("seq_param_names", [n for n, _ in seq.named_parameters()])
    x = pat([2, 4], 5, 0)
    g.put("seq_out", seq(x))
    seq(x).sum().backward()
    g.put("seq_grad_0_weight", seq[0].weight.grad)
    g.put("seq_grad_2_bias", seq[2].bias.grad)

    # A small CNN block: conv → batch norm → relu, in train and eval mode.
    conv = torch.nn.Conv2d(2, 3, 3, padding=1)
    bn = torch.nn.BatchNorm2d(3)
    with torch.no_grad():
        conv.weight.copy_(pat([3, 2, 3, 3], 5, 1))
        conv.bias.copy_(pat([3], 3, 0))
    x = pat([2, 2, 4, 4], 7, 2)
    g.names("bn_param_names", [n for n, _ in bn.named_parameters()])
    g.put("cnn_train_out", bn(conv(x)).relu())
    g.put("cnn_train_running_mean", bn.running_mean)
    g.put("cnn_train_running_var", bn.running_var)
    bn.eval()
    g.put("cnn_eval_out", bn(conv(x)).relu())

    ln = torch.nn.LayerNorm(4)
    g.put("layer_norm_default", ln(pat([2, 4], 5, 2)))

    # clip_grad_norm_.
    p1 = torch.zeros(3, requires_grad=True)
    p2 = torch.zeros(2, 2, requires_grad=True)
    p1.grad = pat([3], 7, 0) * 4
    p2.grad = pat([2, 2], 5, 1) * 4
    total = torch.nn.utils.clip_grad_norm_([p1, p2], 1.0)
    g.put("clip_total", total)
    g.put("clip_p1_grad", p1.grad)
    g.put("clip_p2_grad", p2.grad)


def optim_loss(p, t):
    """The objective the optimizer cases minimise; mirrored in the Go test."""
    return (p.tanh() * t).sum() + (p.square().sum() * 0.1)


OPTIM_CASES = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd_momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
    "sgd_momentum_dampening_wd": lambda ps: torch.optim.SGD(
        ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_nesterov_wd": lambda ps: torch.optim.SGD(
        ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.05),
    "adam_wd_amsgrad": lambda ps: torch.optim.Adam(
        ps, lr=0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.05, weight_decay=0.1),
}


def optim_cases(g):
    t = pat([2, 3], 5, 1)
    for name, make in OPTIM_CASES.items():
        p = pat([2, 3], 7, 0).requires_grad_()
        opt = make([p])
        for step in range(1, 4):
            opt.zero_grad()
            optim_loss(p, t).backward()
            opt.step()
            g.put(f"{name}_step{step}", p)
    # optim.LinearWarmup{LR: 0.1, Steps: 4}: the rate PyTorch's LinearLR
    # gives each of 6 optimizer steps (the Go test reads the factor per step).
    p = pat([2, 3], 7, 0).requires_grad_()
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=1 / 4, end_factor=1.0, total_iters=3)
    rates = []
    for _ in range(6):
        rates.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        optim_loss(p, t).backward()
        opt.step()
        sched.step()
    g.put("linear_warmup_lr", torch.tensor(rates, dtype=torch.float64))


def main():
    root = os.path.dirname(os.path.abspath(__file__))
    torch_dir = os.path.dirname(root)
    for sub, fill in (("", tensor_cases), ("nn", nn_cases), ("optim", optim_cases)):
        g = Golden()
        fill(g)
        g.write(os.path.join(torch_dir, sub, "testdata", "golden.json"))
    # A foreign file for the load-error tests: PyTorch's own pickle format.
    torch.save({"w": pat([2, 2])}, os.path.join(root, "pytorch_save.pt"))


if __name__ == "__main__":
    main()
