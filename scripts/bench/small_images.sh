#!/usr/bin/env bash
# Small images the way users hold them, and what zoo's defaults make of them:
#   1. a folder of 28 px PNGs: the first CLASSES Fashion-MNIST classes exported to
#      train/CLASS/*.png and val/CLASS/*.png (all their training and test images), then
#      `zoo train lenet5 --data FOLDER --epochs 3` with the default augmentation and with
#      `--augment none`: val top-1 of the last epoch;
#   2. `zoo train resnet18 --data fashion-mnist` (the idx files): the input size it picks, its
#      training images/s over 30 steps and the time of one full pass over the 10,000 test images.
# Run it with another build's binary (ZOO=/path/to/zoo) to compare releases.
# Usage: scripts/bench/small_images.sh [CLASSES=5] [OUT=/tmp/zoo-small-images]
set -euo pipefail
cd "$(dirname "$0")/../.."
classes=${1:-5}
out=${2:-/tmp/zoo-small-images}
zoo=${ZOO:-build/zoo}
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
mkdir -p "$out"
if [ ! -f "$out/png/.done" ]; then
  /usr/bin/python3 - "$fm" "$out/png" "$classes" <<'PY'
import gzip, os, sys
import numpy as np
from PIL import Image
src, dst, classes = sys.argv[1], sys.argv[2], int(sys.argv[3])
def idx(name):
    for n in (name, name + ".gz"):
        p = os.path.join(src, n)
        if os.path.exists(p):
            data = (gzip.open if n.endswith(".gz") else open)(p, "rb").read()
            dims = data[3]
            shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
            return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)
    sys.exit(f"no {name}[.gz] in {src}")
names = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Boot"]
for split, pre in (("train", "train"), ("val", "t10k")):
    x, y = idx(f"{pre}-images-idx3-ubyte"), idx(f"{pre}-labels-idx1-ubyte")
    for i in range(len(y)):
        if y[i] >= classes:
            continue
        d = os.path.join(dst, split, f"{y[i]}-{names[y[i]]}")
        os.makedirs(d, exist_ok=True)
        Image.fromarray(x[i]).save(os.path.join(d, f"{i:05d}.png"))
open(os.path.join(dst, ".done"), "w").close()
PY
fi
last_top1() { grep -o '"val_top1":[0-9.]*' "$1/metrics.jsonl" | tail -n 1 | cut -d: -f2; }
rm -rf "$out/runs"
for augment in default none; do
  flags=""; [ "$augment" = none ] && flags="--augment none"
  $zoo train lenet5 --data "$out/png" --epochs 3 --threads 2 --name "lenet-$augment" --runs-dir "$out/runs" $flags --quiet > /dev/null 2>&1
  echo "lenet5 on 28 px PNGs ($classes classes), 3 epochs, augment $augment: val top-1 $(last_top1 "$out/runs/lenet-$augment")"
  { grep -m1 "train pipeline" "$out/runs/lenet-$augment/train.log" || echo "(this build logs no pipeline)"; } | sed 's/^.*info //' 
done
$zoo train resnet18 --data "$fm" --epochs 1 --limit-batches 30 --batch-size 64 --threads 2 --name resnet18-fm --runs-dir "$out/runs" --quiet > /dev/null 2>&1
/usr/bin/python3 - "$out/runs/resnet18-fm" <<'PY'
import json, os, re, sys
run = sys.argv[1]
log = open(os.path.join(run, "train.log")).read()
m = re.search(r"input (\d+ x \d+ x \d+)", log)
shape = m.group(1) if m else "(not logged: " + str(json.load(open(os.path.join(run, "checkpoints/../config.json"))).get("input_size")) + ")"
row = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if '"kind":"epoch"' in l][-1]
print(f"resnet18 on fashion-mnist: input {shape}; training {row['images_per_s']:.1f} images/s over 30 steps of 64; "
      f"validation on the 10,000 test images {row['elapsed'] - row['epoch_seconds']:.1f} s; val top-1 {100 * row['val_top1']:.1f}%")
PY
