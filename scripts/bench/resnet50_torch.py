#!/usr/bin/env python3
"""The PyTorch peer of `zoo bench resnet50 --mode train`: torchvision's ResNet-50 (random
init, 1000 classes), synthetic input, one training step = forward + cross-entropy + backward
+ SGD step (lr 0.01, momentum 0.9, weight decay 1e-4) + reading the loss, exactly what zoo
times. Same batch, threads, precision (bf16 = CPU autocast, as zoo's --precision bf16) and
layout (--channels-last converts the model and the input once, before timing). Prints the
median step time and images/s as JSON on stdout.

Run with Debian's interpreter: /usr/bin/python3 scripts/bench/resnet50_torch.py --threads 2
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
import torchvision


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = torchvision.models.resnet50()
    x = torch.randn(args.batch_size, 3, 224, 224)
    y = torch.randint(0, 1000, (args.batch_size,))
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    bf16 = args.precision == "bf16"

    def step():
        opt.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        loss.item()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(json.dumps({"images_per_s": args.batch_size / median, "median_s": median,
                      "step_seconds": times, "batch_size": args.batch_size,
                      "threads": args.threads, "precision": args.precision,
                      "channels_last": args.channels_last, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
