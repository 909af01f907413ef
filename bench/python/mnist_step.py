"""The MNIST synapse training step (bench/README.md) in PyTorch: the reference
the Go loop is measured against. Usage: mnist_step.py <steps> <warmup> <threads>;
prints "samples/s=<v>". Run with Debian's /usr/bin/python3 (python3-torch)."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.s1, self.s2 = nn.Linear(784, 1024), nn.Linear(1024, 1024)
        self.f1, self.f2 = nn.Linear(784 + 1024, 1024), nn.Linear(1024, 1024)
        self.t1, self.t2, self.t3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def target(self, x):
        return F.log_softmax(self.t3(F.relu(self.t2(F.relu(self.t1(x))))), dim=1)

    def step_loss(self, images, labels):
        x = images.sub(0.1307).div(0.3081).flatten(1)
        student = F.relu(self.s2(F.relu(self.s1(x))))
        network = student.detach()
        local = F.relu(self.f2(F.relu(self.f1(torch.cat([x, student], 1)))))
        remote = F.relu(self.f2(F.relu(self.f1(torch.cat([x, network], 1)))))
        return (F.nll_loss(self.target(local), labels) + F.nll_loss(self.target(remote), labels)
                + F.mse_loss(student, network))


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    batch = 64
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    images = torch.rand(batch, 1, 28, 28)
    labels = torch.randint(0, 10, (batch,))

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            net.step_loss(images, labels).backward()
            opt.step()

    run(warmup)
    start = time.perf_counter()
    run(steps)
    print("samples/s=%.1f" % (steps * batch / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
