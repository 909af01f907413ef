"""The CIFAR synapse's training step (examples/cifar: DPN26 trunk and
student, logit MLP, the seed's three losses with a fixed network context,
SGD with momentum 0.9 and weight decay 5e-4, batch 32) in PyTorch: the
reference the Go step is measured against. Usage: dpn_step.py <steps>
<warmup> <threads>; prints "samples/s=<v>". Run with Debian's
/usr/bin/python3 (python3-torch)."""
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
CFG = dict(in_planes=(96, 192, 384, 768), out_planes=(256, 512, 1024, 2048), num_blocks=(2, 2, 2, 2),
           dense_depth=(16, 32, 24, 128), groups=32)


class Block(nn.Module):
    def __init__(self, last, inp, out, dense, stride, first):
        super().__init__()
        self.out = out
        self.conv1, self.bn1 = nn.Conv2d(last, inp, 1, bias=False), nn.BatchNorm2d(inp)
        self.conv2 = nn.Conv2d(inp, inp, 3, stride=stride, padding=1, groups=CFG["groups"], bias=False)
        self.bn2 = nn.BatchNorm2d(inp)
        self.conv3, self.bn3 = nn.Conv2d(inp, out + dense, 1, bias=False), nn.BatchNorm2d(out + dense)
        self.shortcut = nn.Sequential()
        if first:
            self.shortcut = nn.Sequential(nn.Conv2d(last, out + dense, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(out + dense))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = F.relu(self.bn2(self.conv2(h)))
        h = self.bn3(self.conv3(h))
        x = self.shortcut(x)
        d = self.out
        return F.relu(torch.cat([x[:, :d] + h[:, :d], x[:, d:], h[:, d:]], 1))


class Trunk(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(3, 64, 3, padding=1, bias=False), nn.BatchNorm2d(64)
        layers, last = [], 64
        for s, stride in enumerate((1, 2, 1, 2)):
            for i in range(CFG["num_blocks"][s]):
                layers.append(Block(last, CFG["in_planes"][s], CFG["out_planes"][s], CFG["dense_depth"][s],
                                    stride if i == 0 else 1, i == 0))
                last = CFG["out_planes"][s] + (i + 2) * CFG["dense_depth"][s]
        self.layers = nn.Sequential(*layers)
        self.dim = last * 4

    def forward(self, x):
        return torch.flatten(F.avg_pool2d(self.layers(F.relu(self.bn1(self.conv1(x)))), 4), 1)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk, self.student = Trunk(), Trunk()
        self.l1, self.l2, self.l3 = nn.Linear(self.trunk.dim, 512), nn.Linear(512, 256), nn.Linear(256, 10)

    def logits(self, h):
        return F.log_softmax(self.l3(F.relu(self.l2(F.relu(self.l1(h))))), 1)

    def step_loss(self, images, network, labels):
        x = torch.cat([(images[:, c:c + 1] - MEAN[c]) / STD[c] for c in range(3)], 1)
        features, student = self.trunk(x), self.student(x)
        return (F.nll_loss(self.logits(features + student), labels)
                + F.nll_loss(self.logits(features + network), labels)
                + F.mse_loss(student, network.detach()))


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    batch = 32
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Net()
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    images = torch.rand(batch, 3, 32, 32)
    network = torch.rand(batch, net.trunk.dim)
    labels = torch.randint(0, 10, (batch,))

    def run(n):
        for _ in range(n):
            opt.zero_grad(set_to_none=True)
            net.step_loss(images, network, labels).backward()
            opt.step()

    run(warmup)
    start = time.perf_counter()
    run(steps)
    print("samples/s=%.2f" % (steps * batch / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
