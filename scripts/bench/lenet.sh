#!/usr/bin/env bash
# zoo vs PyTorch on LeNet-5 / Fashion-MNIST training throughput, side by side in one run:
# same model, batch size, optimizer and thread count; the Python peer holds the data in
# memory. Prints both throughputs and the ratio zoo / PyTorch for each thread count.
#   scripts/bench/lenet.sh [EPOCHS]        (default 1 epoch = 60,000 images per side)
set -euo pipefail
cd "$(dirname "$0")/../.."
epochs=${1:-1}
[ -x build/zoo ] || scripts/setup.sh
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf "%-8s %14s %14s %8s\n" threads "zoo img/s" "torch img/s" ratio
for threads in 1 2; do
  build/zoo train lenet5 --data "$data" --epochs "$epochs" --threads "$threads" --batch-size 64 \
    --quiet --name "t$threads" --runs-dir "$tmp" >/dev/null 2>&1
  zoo=$(/usr/bin/python3 -c "import json,sys; rows=[json.loads(l) for l in open(sys.argv[1])]; print(sum(r['images_per_s'] for r in rows)/len(rows))" "$tmp/t$threads/metrics.jsonl")
  py=$(/usr/bin/python3 scripts/bench/lenet_torch.py --data "$data" --threads "$threads" --epochs "$epochs" \
    | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])")
  /usr/bin/python3 -c "import sys; z,p=float(sys.argv[2]),float(sys.argv[3]); print(f'{sys.argv[1]:<8} {z:14.0f} {p:14.0f} {z/p:7.2f}x')" "$threads" "$zoo" "$py"
done
