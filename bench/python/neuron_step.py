"""The PyTorch twin of a lone MNIST neuron's training step (bench/README.md):
the model work of `bittensor run mnist` with no peers, and nothing else.

Per step, as the seed's neuron does when it queries only itself: the routing
context (the model's encoding, with autograd, through a linear gate), the
self-query (the same encoding without autograd, what the neuron serves), the
seed's forward with the self-query as the network's context and its three
losses, the context read-out of `bittensor run mnist` (a linear layer of the
context with its own loss, its log-probabilities added to the classifier's
for the prediction, whose loss the neuron reports), backward, the
self-query's backward (the served encoding recomputed with autograd and
back-propagated with the gradient the network context got, training the
model as a peer's Backward would), and one SGD step.

Usage: neuron_step.py <steps> <warmup> <threads>; prints "samples/s=<v>".
Run with Debian's /usr/bin/python3 (python3-torch), under the same malloc
settings as the Go side (bench/neuron sets them for both).
"""
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
        self.readout = nn.Linear(1024, 10)
        self.gate = nn.Linear(1024, 1)

    def student(self, x):
        return F.relu(self.s2(F.relu(self.s1(x))))

    def enc(self, x, context):
        return F.relu(self.f2(F.relu(self.f1(torch.cat([x, context], 1)))))

    def encode(self, x):
        return self.enc(x, self.student(x))

    def target(self, h):
        return F.log_softmax(self.t3(F.relu(self.t2(F.relu(self.t1(h))))), dim=1)


def main():
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    batch = 64
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    images = torch.rand(batch, 1, 28, 28)
    labels = torch.randint(0, 10, (batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        x = images.sub(0.1307).div(0.3081).flatten(1)
        gate = torch.sigmoid(net.gate(net.encode(x)))  # routing context
        with torch.no_grad():
            served = net.encode(x)  # the self-query
        served.requires_grad_(True)
        network = served * gate
        student = net.student(x)
        local = net.enc(x, student)
        remote = net.target(net.enc(x, network))
        read = F.log_softmax(net.readout(network), dim=1)
        predicted = F.log_softmax(remote + read, dim=1)
        F.nll_loss(predicted, labels)  # the network target loss the neuron reports
        loss = (F.nll_loss(net.target(local), labels) + F.nll_loss(remote, labels)
                + F.nll_loss(read, labels) + F.mse_loss(student, network.detach()))
        loss.backward()
        net.encode(x).backward(served.grad)  # the self-query's Backward
        opt.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    print("samples/s=%.1f" % (steps * batch / (time.perf_counter() - start)))


if __name__ == "__main__":
    main()
