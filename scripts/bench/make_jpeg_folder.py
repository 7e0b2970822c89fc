#!/usr/bin/env python3
"""Writes an ImageFolder of synthetic JPEGs for the loader benchmark: CLASSES class folders,
N images in all, each about 500x375 (sizes vary by +-20%, some portrait), smooth colour
gradients plus noise and a few shapes so the JPEGs have realistic entropy (~quality 90).

/usr/bin/python3 scripts/bench/make_jpeg_folder.py OUT [--images 2000] [--classes 10]
"""
import argparse
import os

import numpy as np
from PIL import Image, ImageDraw


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    for i in range(args.images):
        c = i % args.classes
        d = os.path.join(args.out, f"class{c:02d}")
        os.makedirs(d, exist_ok=True)
        w = int(500 * rng.uniform(0.8, 1.2))
        h = int(375 * rng.uniform(0.8, 1.2))
        if rng.random() < 0.2:
            w, h = h, w
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        base = rng.uniform(0, 255, 3)
        grad = rng.uniform(-0.4, 0.4, (3, 2))
        img = np.stack([base[k] + grad[k, 0] * xx + grad[k, 1] * yy for k in range(3)], axis=-1)
        img += rng.normal(0, 12, img.shape)
        pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(pil)
        for _ in range(5):
            x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
            r = rng.uniform(10, 80)
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=tuple(int(v) for v in rng.uniform(0, 255, 3)))
        pil.save(os.path.join(d, f"{i:05d}.jpg"), quality=90)


if __name__ == "__main__":
    main()
