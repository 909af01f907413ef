#!/usr/bin/python3
"""Writes the first N_TRAIN training and N_TEST test examples of Debian's
Fashion-MNIST (dataset-fashion-mnist) as idx files into OUT_DIR, for a
short, reproducible run of the CIFAR neuron:

    /usr/bin/python3 examples/cifar/scripts/fashion_subset.py 1600 1000 /tmp/fashion-1600
    bittensor run cifar --dataset fashion-mnist --data_dir /tmp/fashion-1600 --epochs 1 --seed 1

One epoch over N_TRAIN examples is N_TRAIN/32 steps, then the test pass over
N_TEST examples. Standard library only.
"""
import gzip
import os
import struct
import sys

SRC = "/usr/share/datasets/fashion-mnist"


def subset(name, n, out_dir):
    with gzip.open(os.path.join(SRC, name + ".gz"), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = list(struct.unpack(">%dI" % rank, data[4:4 + 4 * rank]))
    if n > dims[0]:
        sys.exit("%s holds %d examples, fewer than %d" % (name, dims[0], n))
    per = 1
    for d in dims[1:]:
        per *= d
    body = data[4 + 4 * rank:4 + 4 * rank + n * per]
    dims[0] = n
    with open(os.path.join(out_dir, name), "wb") as f:
        f.write(data[:4] + struct.pack(">%dI" % rank, *dims) + body)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    n_train, n_test, out_dir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    for name, n in (("train-images-idx3-ubyte", n_train), ("train-labels-idx1-ubyte", n_train),
                    ("t10k-images-idx3-ubyte", n_test), ("t10k-labels-idx1-ubyte", n_test)):
        subset(name, n, out_dir)


if __name__ == "__main__":
    main()
