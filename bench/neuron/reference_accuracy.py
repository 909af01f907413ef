"""PyTorch twin of a single Go MNIST neuron's training, to compare test accuracy.

The seed's model (student 784-1024-1024, forward (784+1024)-1024-1024, target
1024-512-256-10 with log-softmax), its three losses and SGD (lr 0.01, momentum
0.9, batch 64). The network's context is the model's own encoding without
gradient, which is what a lone Go neuron gets from its own Axon.

    python3 bench/neuron/reference_accuracy.py DATA_DIR [SEED]

DATA_DIR holds the four gzipped MNIST idx files, e.g.
$(go env GOMODCACHE)/github.com/petar/!go!m!n!i!s!t@v0.0.0-20150320212226-2fbe10d0fa63/data
"""
import gzip, os, sys, time
import numpy as np
import torch, torch.nn as nn, torch.nn.functional as F

D = sys.argv[1]
def idx(name):
    b = gzip.open(os.path.join(D, name), "rb").read()
    nd = b[3]; dims = [int.from_bytes(b[4+4*i:8+4*i], "big") for i in range(nd)]
    return np.frombuffer(b, np.uint8, offset=4+4*nd).reshape(dims)
Xtr = torch.tensor(idx("train-images-idx3-ubyte.gz"), dtype=torch.float32).div(255).view(-1, 784)
Ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.int64)
Xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz"), dtype=torch.float32).div(255).view(-1, 784)
Yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.int64)
torch.manual_seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
class M(nn.Module):
    def __init__(s):
        super().__init__()
        s.s1, s.s2 = nn.Linear(784, 1024), nn.Linear(1024, 1024)
        s.f1, s.f2 = nn.Linear(784 + 1024, 1024), nn.Linear(1024, 1024)
        s.t1, s.t2, s.t3 = nn.Linear(1024, 512), nn.Linear(512, 256), nn.Linear(256, 10)
    def student(s, x): return F.relu(s.s2(F.relu(s.s1(x))))
    def enc(s, x, c): return F.relu(s.f2(F.relu(s.f1(torch.cat([x, c], 1)))))
    def tgt(s, h): return F.log_softmax(s.t3(F.relu(s.t2(F.relu(s.t1(h))))), 1)
    def encode(s, x): return s.enc(x, s.student(x))
m = M(); opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
norm = lambda x: (x - 0.1307) / 0.3081
for epoch in range(2):
    perm = torch.randperm(60000); t0 = time.time()
    for i in range(0, 60000, 64):
        idxs = perm[i:i+64]; x = norm(Xtr[idxs]); y = Ytr[idxs]
        opt.zero_grad()
        with torch.no_grad(): net = m.encode(x)        # what the own Axon answers
        st = m.student(x)
        lt = m.tgt(m.enc(x, st)); nt = m.tgt(m.enc(x, net))
        loss = F.nll_loss(lt, y) + F.nll_loss(nt, y) + F.mse_loss(st, net)
        loss.backward(); opt.step()
    with torch.no_grad():
        x = norm(Xte); st = m.student(x)
        acc = (m.tgt(m.enc(x, st)).argmax(1) == Yte).float().mean().item()
    print(f"epoch {epoch}: local accuracy {acc*100:.2f}% ({time.time()-t0:.0f}s)", flush=True)
