#!/usr/bin/env bash
# Small images the way users hold them, and what zoo's defaults make of them (zoo alone, no
# PyTorch peer; every run at THREADS intra-op threads, passed explicitly):
#   1. a folder of 28 px PNGs: the first CLASSES Fashion-MNIST classes exported to
#      train/CLASS/*.png and val/CLASS/*.png (all their training and test images), then
#      `zoo train lenet5 --data FOLDER --epochs 3` with the default augmentation and with
#      `--augment none`: the training pipeline train.log names and the val top-1 of the last epoch;
#   2. `zoo train resnet18 --data fashion-mnist` (the idx files): the input size it picks, its
#      training images/s over 30 steps of 64 and the time of one full pass over the 10,000 test
#      images.
# Run it with another build's binary (ZOO=/path/to/zoo) to compare releases. Output: a markdown
# block (scripts/bench/common.sh).
# Usage: scripts/bench/small_images.sh [CLASSES=5] [OUT=/tmp/zoo-small-images] [THREADS=2]
#        scripts/bench/small_images.sh --smoke   (a tiny generated idx set, 1 epoch, 2 resnet18
#                                                 steps of 16; what the ctest label `bench` runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
classes=${1:-5}
out=${2:-/tmp/zoo-small-images}
threads=${3:-2}
args=("$classes" "$out" "$threads")
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
epochs=3 steps=30 batch=64
if [ "$smoke" = 1 ]; then
  out=$(mktemp -d) fm=$out/idx epochs=1 steps=2 batch=16 threads=1 args=(--smoke)
  trap 'rm -rf "$out"' EXIT
  bench_tiny_idx "$fm" 200 50
fi
mkdir -p "$out"
if [ ! -f "$out/png/.done" ]; then
  $py - "$fm" "$out/png" "$classes" <<'PY'
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
run() {  # NAME zoo-train-args...: a quiet run; zoo's log only on failure
  local name=$1; shift
  $zoo train "$@" --threads "$threads" --name "$name" --runs-dir "$out/runs" --quiet >/dev/null 2>"$out/log" \
    || { cat "$out/log" >&2; exit 1; }
}
rm -rf "$out/runs"
run lenet-default lenet5 --data "$out/png" --epochs "$epochs"
run lenet-none lenet5 --data "$out/png" --epochs "$epochs" --augment none
run resnet18-fm resnet18 --data "$fm" --epochs 1 --limit-batches "$steps" --batch-size "$batch"
$py - "$out/runs" "$classes" "$epochs" "$steps" "$batch" <<'PY' > "$out/tables.md"
import json, os, re, sys
runs, classes, epochs, steps, batch = sys.argv[1], *map(int, sys.argv[2:])
def epoch_row(run):
    return [json.loads(l) for l in open(os.path.join(runs, run, "metrics.jsonl")) if '"kind":"epoch"' in l][-1]
def log(run):
    return open(os.path.join(runs, run, "train.log")).read()
def pipeline(run):
    m = re.search(r"train pipeline: (.*)", log(run))
    return m.group(1).strip().replace("|", "\\|") if m else "(this build logs no pipeline)"
m = re.search(r"input (\d+ x \d+ x \d+)", log("resnet18-fm"))
shape = m.group(1) if m else "(not logged)"
r = epoch_row("resnet18-fm")
print("| measure | value |")
print("|---|---|")
print(f"| lenet5, 28 px PNG folder ({classes} classes), default augmentation: pipeline | {pipeline('lenet-default')} |")
print(f"| val top-1 after {epochs} epoch{'s' if epochs != 1 else ''} | **{100 * epoch_row('lenet-default')['val_top1']:.1f}%** |")
print(f"| lenet5, same folder, `--augment none`: pipeline | {pipeline('lenet-none')} |")
print(f"| val top-1 after {epochs} epoch{'s' if epochs != 1 else ''} | {100 * epoch_row('lenet-none')['val_top1']:.1f}% |")
print(f"| resnet18 on fashion-mnist (idx files): input | {shape} |")
print(f"| training images/s ({steps} steps of {batch}) | {r['images_per_s']:,.1f} |")
print(f"| one pass over the test images | {r['elapsed'] - r['epoch_seconds']:.1f} s |")
print(f"| val top-1 after {steps} steps | {100 * r['val_top1']:.1f}% |")
PY
bench_block "${args[@]}" < "$out/tables.md"
