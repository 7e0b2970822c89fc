#!/usr/bin/env python3
"""The torchvision peer of `zoo bench --data DIR`: ImageFolder + DataLoader with the same
training pipeline (RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize with
ImageNet's mean/std), batch 32, shuffled, 2 worker processes, --threads intra-op threads
(zoo bench's --threads). Times one epoch without its first batch (the pipeline's fill), as zoo
bench does, and prints images/s as JSON.

Run with Debian's interpreter: /usr/bin/python3 scripts/bench/imagefolder_torch.py DIR --threads 1
"""
import argparse
import json
import time

import torch
from torchvision import datasets, transforms


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (the main process)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    tf = transforms.Compose([
        transforms.RandomResizedCrop(args.size),
        transforms.RandomHorizontalFlip(),
        transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
    ])
    ds = datasets.ImageFolder(args.data, transform=tf)
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch_size, shuffle=True,
                                         num_workers=args.workers, persistent_workers=False)
    images, seconds = 0, 0.0
    for _ in range(args.epochs):
        start = None
        for i, (x, y) in enumerate(loader):
            if i == 0:
                start = time.perf_counter()
            else:
                images += x.shape[0]
        seconds += time.perf_counter() - start
    print(json.dumps({"images": images, "seconds": seconds, "images_per_s": images / seconds,
                      "workers": args.workers, "batch_size": args.batch_size, "threads": args.threads}))


if __name__ == "__main__":
    main()
