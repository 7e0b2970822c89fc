#!/usr/bin/env bash
# zoo's training input pipeline vs torchvision's on a folder of ~2,000 JPEGs around 500x375:
# RandomResizedCrop(224) + RandomHorizontalFlip + ToTensor + Normalize into shuffled batches
# of 32 with 2 workers on both sides (zoo: `zoo bench --data`, threads; torchvision:
# ImageFolder + DataLoader(num_workers=2), processes, on Debian's /usr/bin/python3). The sides
# alternate for ROUNDS rounds of one epoch each (these shared machines vary from minute to
# minute); the medians and their ratio are printed.
#   scripts/bench/imagefolder.sh [ROUNDS] [IMAGES]      (defaults 3, 2000)
#   JPEGS=DIR scripts/bench/imagefolder.sh             (reuse a folder written before)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
images=${2:-2000}
[ -x build/zoo ] || scripts/setup.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jpegs=${JPEGS:-$tmp/jpegs}
[ -d "$jpegs" ] || /usr/bin/python3 scripts/bench/make_jpeg_folder.py "$jpegs" --images "$images"
median() { /usr/bin/python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
rate() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
zoo_runs=() py_runs=()
for round in $(seq "$rounds"); do
  zoo_runs+=("$(build/zoo bench resnet50 --data "$jpegs" --batch-size 32 --workers 2 --json | rate)")
  py_runs+=("$(/usr/bin/python3 scripts/bench/imagefolder_torch.py "$jpegs" --batch-size 32 --workers 2 | rate)")
  echo "round $round: zoo ${zoo_runs[-1]} img/s, torchvision ${py_runs[-1]} img/s" >&2
done
zoo=$(median "${zoo_runs[@]}")
py=$(median "${py_runs[@]}")
/usr/bin/python3 -c "import sys; z,p=float(sys.argv[1]),float(sys.argv[2]); print(f'zoo {z:.0f} img/s, torchvision {p:.0f} img/s, zoo/torchvision {z/p:.2f}x (medians of {sys.argv[3]} rounds, {sys.argv[4]} JPEGs)')" "$zoo" "$py" "$rounds" "$images"
