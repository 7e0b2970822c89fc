#!/usr/bin/env python3
"""The PyTorch peer of `zoo train MODEL --nproc N`: the same model (LeNet-5, or torchvision's
ResNet-18 fed the 1-channel images as 3 identical channels, as zoo does), SGD (lr 0.02,
momentum 0.9, weight decay 5e-4), per-rank batch and threads; N ranks over Gloo with
DistributedDataParallel (25 MB buckets, buffers broadcast from rank 0: PyTorch's defaults, as
zoo's) and torch's DistributedSampler order; one process without DDP for N = 1. Fashion-MNIST
is held in memory as one normalized tensor. Prints, as JSON, the training throughput over
STEPS steps (all ranks' images over rank 0's wall time, first step included).

Run with Debian's interpreter: /usr/bin/python3 scripts/bench/ddp_torch.py --model resnet18 --nproc 2
"""
import argparse
import gzip
import json
import os
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torchvision
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lenet_torch import LeNet5  # noqa: E402  (the LeNet-5 peer of lenet.sh)


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with gzip.open(p, "rb") if p.endswith(".gz") else open(p, "rb") as f:
                data = f.read()
            ndim = data[3]
            dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
            return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    raise SystemExit(f"no {path}[.gz]")


def build(name):
    if name == "lenet5":
        return LeNet5(), False
    return torchvision.models.resnet18(num_classes=10), True


def run(rank, args, port):
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    if args.nproc > 1:
        os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
        dist.init_process_group("gloo", rank=rank, world_size=args.nproc)
    x = torch.from_numpy(read_idx(f"{args.data}/train-images-idx3-ubyte").copy()).float()
    y = torch.from_numpy(read_idx(f"{args.data}/train-labels-idx1-ubyte").astype(np.int64))
    x = ((x / 255.0 - 0.2860) / 0.3530).unsqueeze(1)
    model, three = build(args.model)
    if args.nproc > 1:
        model = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=25)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    g = torch.Generator().manual_seed(42)
    order = torch.randperm(len(x), generator=g)[rank::args.nproc]  # DistributedSampler's shard
    if args.nproc > 1:
        dist.barrier()
    start = time.perf_counter()
    for step in range(args.steps):
        idx = order[step * args.batch_size:(step + 1) * args.batch_size]
        xb, yb = x[idx], y[idx]
        if three:
            xb = xb.expand(-1, 3, -1, -1)
        opt.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        loss.item()  # zoo reads the loss every step too
    if args.nproc > 1:
        dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        images = args.steps * args.batch_size * args.nproc
        print(json.dumps({"images_per_s": images / seconds, "seconds": seconds, "images": images,
                          "nproc": args.nproc, "threads": args.threads, "torch": torch.__version__}), flush=True)
    if args.nproc > 1:
        dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="lenet5", choices=["lenet5", "resnet18"])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--batch-size", type=int, default=64, help="per rank")
    p.add_argument("--nproc", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads per rank")
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args()
    if args.nproc == 1:
        run(0, args, 0)
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(run, args=(args, port), nprocs=args.nproc)


if __name__ == "__main__":
    main()
