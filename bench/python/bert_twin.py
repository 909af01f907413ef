"""The PyTorch twin of examples/bert's Model: the same layers, parameter
names, initialisation scheme and forward, for the goldens
(examples/bert/testdata/gen_golden.py) and the bert-step benchmark
(bench/python/bert_step.py). Inputs are [batch, 2, seq] int64: token ids,
then segment ids; id 0 ([PAD]) is masked out of attention.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-12


class Attention(nn.Module):
    def __init__(self, dim, heads, p):
        super().__init__()
        self.heads, self.p = heads, p
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x, ignore, train):
        b, l, dim = x.shape
        hd = dim // self.heads

        def heads(t):
            return t.view(b, l, self.heads, hd).transpose(1, 2)

        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = q.matmul(k.transpose(2, 3)) / math.sqrt(hd)
        scores = scores.masked_fill(ignore, float("-inf"))
        probs = F.dropout(scores.softmax(3), self.p, train)
        return self.out(probs.matmul(v).transpose(1, 2).reshape(b, l, dim))


class Layer(nn.Module):
    """Post-LN encoder layer, as torch/nn.TransformerEncoderLayer."""

    def __init__(self, dim, heads, inter, p):
        super().__init__()
        self.p = p
        self.attention = Attention(dim, heads, p)
        self.norm1 = nn.LayerNorm(dim, eps=NORM_EPS)
        self.fc1 = nn.Linear(dim, inter)
        self.fc2 = nn.Linear(inter, dim)
        self.norm2 = nn.LayerNorm(dim, eps=NORM_EPS)

    def forward(self, x, ignore, train):
        h = self.norm1(x + F.dropout(self.attention(x, ignore, train), self.p, train))
        ff = self.fc2(F.gelu(self.fc1(h)))
        return self.norm2(h + F.dropout(ff, self.p, train))


class Twin(nn.Module):
    def __init__(self, vocab=30522, max_len=64, hidden=256, heads=2, inter=512, layers=2, p=0.1):
        super().__init__()
        self.p = p
        self.tokens = nn.Embedding(vocab, hidden)
        self.positions = nn.Embedding(max_len, hidden)
        self.segments = nn.Embedding(2, hidden)
        self.embed_norm = nn.LayerNorm(hidden, eps=NORM_EPS)
        self.encoder = nn.ModuleList([Layer(hidden, heads, inter, p) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)
        self.student = nn.ModuleList([Layer(hidden, heads, inter, p) for _ in range(layers)])
        self.student_pooler = nn.Linear(hidden, hidden)
        self.joiner = nn.Linear(2 * hidden, hidden)
        self.nsp = nn.Linear(hidden, 2)
        for name, q in self.named_parameters():
            if "norm" in name:
                continue
            with torch.no_grad():
                if name.endswith(".bias"):
                    q.zero_()
                else:
                    q.normal_(0, 0.02)

    def embed(self, x, train):
        ids, segs = x[:, 0], x[:, 1]
        pos = torch.arange(ids.shape[1])
        emb = self.tokens(ids) + self.positions(pos) + self.segments(segs)
        emb = F.dropout(self.embed_norm(emb), self.p, train)
        return emb, (ids == 0).unsqueeze(1).unsqueeze(1)

    @staticmethod
    def run(layers, x, ignore, train):
        for l in layers:
            x = l(x, ignore, train)
        return x

    def encode(self, x):
        emb, ignore = self.embed(x, False)
        return torch.tanh(self.pooler(self.run(self.encoder, emb, ignore, False)[:, 0]))

    def target(self, pooled, context):
        out = torch.tanh(self.joiner(torch.cat([pooled, context], 1)))
        return out, F.log_softmax(self.nsp(out), 1)

    def forward(self, x, network, labels):
        """Returns (local_target, network_target, distillation, loss)."""
        train = self.training and torch.is_grad_enabled()
        emb, ignore = self.embed(x, train)
        pooled = torch.tanh(self.pooler(self.run(self.encoder, emb, ignore, train)[:, 0]))
        student = torch.tanh(self.student_pooler(self.run(self.student, emb.detach(), ignore, train)[:, 0]))
        _, local = self.target(pooled, student)
        _, net = self.target(pooled, network)
        dist = F.mse_loss(student, network.detach())
        loss = F.nll_loss(local, labels) + F.nll_loss(net, labels) + dist
        return local, net, dist, loss
