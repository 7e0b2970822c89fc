#!/usr/bin/env bash
# Two zoo binaries side by side on the same machine, for a change that must not cost speed
# (the trainer's task seam, the loader's collate step): a LeNet-5 epoch on Fashion-MNIST
# (`zoo train`, the epoch row's images_per_s: loader, step, optimizer and bookkeeping) and
# the loader alone (`zoo bench --data`: fashion-mnist for lenet5, and the generated shapes set
# through resnet18's augmentation pipeline). The binaries alternate for ROUNDS rounds (these
# shared machines drift by +-20% from minute to minute); medians and NEW/OLD ratios are printed.
#   scripts/bench/builds.sh OLD_ZOO NEW_ZOO [ROUNDS]      (default 5)
set -euo pipefail
old=$1 new=$2 rounds=${3:-5}
data=/usr/share/datasets/fashion-mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
py=/usr/bin/python3
epoch_rate() {  # the images_per_s of the first epoch row of a run's metrics.jsonl
  $py -c "import json,sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row.get('kind', 'epoch') == 'epoch': print(row['images_per_s']); break" "$1/metrics.jsonl"
}
json_rate() { $py -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
declare -A runs
for round in $(seq "$rounds"); do
  for side in old new; do
    bin=${!side}
    "$bin" train lenet5 --data "$data" --epochs 1 --threads 1 --quiet --name "$side-$round" \
      --runs-dir "$tmp" >/dev/null 2>&1
    runs[$side,train]+=" $(epoch_rate "$tmp/$side-$round")"
    runs[$side,idx]+=" $("$bin" bench lenet5 --data "$data" --epochs 2 --json 2>/dev/null | json_rate)"
    runs[$side,shapes]+=" $("$bin" bench resnet18 --data shapes --epochs 1 --json 2>/dev/null | json_rate)"
  done
done
printf "%-34s %12s %12s %8s\n" measure "old img/s" "new img/s" new/old
for m in train idx shapes; do
  case $m in
    train) label="train lenet5, 1 epoch, 1 thread" ;;
    idx) label="bench lenet5 --data fashion-mnist" ;;
    shapes) label="bench resnet18 --data shapes" ;;
  esac
  o=$(median ${runs[old,$m]}) n=$(median ${runs[new,$m]})
  $py -c "import sys; o,n=float(sys.argv[2]),float(sys.argv[3]); print(f'{sys.argv[1]:<34} {o:12.0f} {n:12.0f} {n/o:7.3f}x')" "$label" "$o" "$n"
done
