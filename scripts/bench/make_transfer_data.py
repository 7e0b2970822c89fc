#!/usr/bin/env python3
"""Splits Fashion-MNIST for the transfer experiment (scripts/bench/transfer.sh), writing MNIST
layout folders (idx files + classes.txt) that zoo reads as they are:
  OUT/source   classes 0-4 (T-shirt/top .. Coat): every training and test image, labels 0-4
  OUT/target   classes 5-9 (Sandal .. Ankle boot): PER_CLASS training images per class drawn with
               SEED, and every test image of those classes, labels 0-4
  OUT/target-full  classes 5-9: every training and test image (for the --cache-features timing)
usage: make_transfer_data.py FASHION_MNIST_DIR OUT [PER_CLASS] [SEED]"""
import gzip
import os
import struct
import sys

import numpy as np

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def write_idx(path, array):
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def write_split(out, classes, train, test):
    os.makedirs(out, exist_ok=True)
    for prefix, (x, y) in (("train", train), ("t10k", test)):
        write_idx(os.path.join(out, prefix + "-images-idx3-ubyte.gz"), x)
        write_idx(os.path.join(out, prefix + "-labels-idx1-ubyte.gz"), y)
    with open(os.path.join(out, "classes.txt"), "w") as f:
        f.write("".join(NAMES[c] + "\n" for c in classes))


def select(x, y, classes, per_class=None, rng=None):
    keep = []
    for c in classes:
        idx = np.flatnonzero(y == c)
        if per_class is not None:
            idx = np.sort(rng.choice(idx, per_class, replace=False))
        keep.append(idx)
    keep = np.sort(np.concatenate(keep))
    remap = {c: i for i, c in enumerate(classes)}
    return x[keep], np.array([remap[int(v)] for v in y[keep]], dtype=np.uint8)


def main():
    src, out = sys.argv[1], sys.argv[2]
    per_class = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    rng = np.random.default_rng(int(sys.argv[4]) if len(sys.argv) > 4 else 0)
    xtr, ytr = read_idx(os.path.join(src, "train-images-idx3-ubyte.gz")), read_idx(os.path.join(src, "train-labels-idx1-ubyte.gz"))
    xte, yte = read_idx(os.path.join(src, "t10k-images-idx3-ubyte.gz")), read_idx(os.path.join(src, "t10k-labels-idx1-ubyte.gz"))
    first, second = [0, 1, 2, 3, 4], [5, 6, 7, 8, 9]
    write_split(os.path.join(out, "source"), first, select(xtr, ytr, first), select(xte, yte, first))
    write_split(os.path.join(out, "target"), second, select(xtr, ytr, second, per_class, rng), select(xte, yte, second))
    write_split(os.path.join(out, "target-full"), second, select(xtr, ytr, second), select(xte, yte, second))


if __name__ == "__main__":
    main()
