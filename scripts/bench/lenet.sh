#!/usr/bin/env bash
# zoo vs PyTorch on LeNet-5 / Fashion-MNIST training throughput, side by side in one run:
# same model, batch size, optimizer and thread count; the Python peer holds the data in
# memory. zoo and PyTorch alternate for ROUNDS rounds of one epoch each (these shared machines
# vary by +-20% from minute to minute); the medians and their ratio are printed per thread
# count.
#   scripts/bench/lenet.sh [ROUNDS]        (default 3)
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3}
[ -x build/zoo ] || scripts/setup.sh
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { /usr/bin/python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
printf "%-8s %-7s %14s %14s %8s\n" threads rounds "zoo img/s" "torch img/s" ratio
for threads in 1 2; do
  zoo_runs=() py_runs=()
  for round in $(seq "$rounds"); do
    build/zoo train lenet5 --data "$data" --epochs 1 --threads "$threads" --batch-size 64 \
      --quiet --name "t$threads-$round" --runs-dir "$tmp" >/dev/null 2>&1
    zoo_runs+=("$(/usr/bin/python3 -c "import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get('kind', 'epoch') == 'epoch')['images_per_s'])" "$tmp/t$threads-$round/metrics.jsonl")")
    py_runs+=("$(/usr/bin/python3 scripts/bench/lenet_torch.py --data "$data" --threads "$threads" \
      | /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])")")
  done
  zoo=$(median "${zoo_runs[@]}")
  py=$(median "${py_runs[@]}")
  /usr/bin/python3 -c "import sys; z,p=float(sys.argv[3]),float(sys.argv[4]); print(f'{sys.argv[1]:<8} {sys.argv[2]:<7} {z:14.0f} {p:14.0f} {z/p:7.2f}x')" "$threads" "$rounds" "$zoo" "$py"
done
