"""The BERT synapse's training step (bench/README.md) in PyTorch: the
reference the Go step (bench/cmd/bench/bert_step.go) is measured against.
Usage: bert_step.py <steps> <warmup> <threads>; prints "samples/s=<v>".
Run with Debian's /usr/bin/python3 (python3-torch)."""
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bert_twin import Twin  # noqa: E402

BATCH, SEQ = 32, 48


def inputs():
    """The batch bert_step.go builds: rows of falling length, padded."""
    ids = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    segs = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    for i in range(BATCH):
        n = SEQ - (i % 16) * 2
        for j in range(n):
            ids[i, j] = (i * 131 + j * 17) % 29000 + 1000
            segs[i, j] = 1 if j >= n // 2 else 0
        ids[i, 0], ids[i, n - 1] = 101, 102
    return torch.stack([ids, segs], 1), torch.tensor([i % 2 for i in range(BATCH)])


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = Twin()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, labels = inputs()

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            network = model.encode(x).detach()
            model(x, network, labels)[3].backward()
            opt.step()

    run(warmup)
    start = time.perf_counter()
    run(steps)
    print("samples/s=%.1f" % (steps * BATCH / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
