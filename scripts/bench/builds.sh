#!/usr/bin/env bash
# Two zoo binaries side by side on the same machine, for a change that must not cost speed
# (the trainer's task seam, the loader's collate step): a LeNet-5 epoch on Fashion-MNIST
# (`zoo train`, the epoch row's images_per_s: loader, step, optimizer and bookkeeping) and
# the loader alone (`zoo bench --data`: fashion-mnist for lenet5, and the generated shapes set
# through resnet18's augmentation pipeline), every run at 1 intra-op thread (--threads 1; both
# are zoo, so the malloc settings are the same). The binaries alternate for ROUNDS rounds (these
# shared machines drift by +-20% from minute to minute); medians and NEW/OLD ratios (bold) are
# printed as a markdown block (scripts/bench/common.sh).
#   scripts/bench/builds.sh OLD_ZOO NEW_ZOO [ROUNDS]      (default 5; FASHION_MNIST=DIR)
#   OLD_ZOO=A NEW_ZOO=B scripts/bench/builds.sh [ROUNDS]  (the same; how all.sh runs it)
#   scripts/bench/builds.sh --smoke      ($ZOO, else build/zoo, against itself: 1 round on a tiny
#                                         generated idx set, 16 batches of shapes; what ctest -L bench runs)
set -euo pipefail
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
if [ "$smoke" = 0 ]; then
  if [ $# -lt 2 ] && [ -n "${OLD_ZOO:-}" ] && [ -n "${NEW_ZOO:-}" ]; then set -- "$OLD_ZOO" "$NEW_ZOO" "$@"; fi
  [ $# -ge 2 ] || { echo "usage: scripts/bench/builds.sh OLD_ZOO NEW_ZOO [ROUNDS] | --smoke" >&2; exit 2; }
  old=$(readlink -f "$1") new=$(readlink -f "$2") rounds=${3:-5}
  args=("$1" "$2" "$rounds")
fi
cd "$(dirname "$0")/../.."
bench_needs_zoo=$smoke  # OLD and NEW are given: build/zoo only for --smoke
. scripts/bench/common.sh
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shapes_batches=()
if [ "$smoke" = 1 ]; then
  old=$zoo new=$zoo rounds=1 data=$tmp/data args=(--smoke) shapes_batches=(--batches 16)
  bench_tiny_idx "$data" 512 64
fi
epoch_rate() {  # the images_per_s of the first epoch row of a run's metrics.jsonl
  $py -c "import json,sys
for line in open(sys.argv[1]):
    row = json.loads(line)
    if row.get('kind', 'epoch') == 'epoch': print(row['images_per_s']); break" "$1/metrics.jsonl"
}
json_rate() { $py -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
declare -A runs
for round in $(seq "$rounds"); do
  for side in old new; do
    bin=${!side}
    "$bin" train lenet5 --data "$data" --epochs 1 --threads 1 --quiet --name "$side-$round" \
      --runs-dir "$tmp" >/dev/null 2>&1
    runs[$side,train]+=" $(epoch_rate "$tmp/$side-$round")"
    runs[$side,idx]+=" $("$bin" bench lenet5 --data "$data" --epochs 2 --threads 1 --json 2>/dev/null | json_rate)"
    runs[$side,shapes]+=" $("$bin" bench resnet18 --data shapes --epochs 1 --threads 1 "${shapes_batches[@]}" --json 2>/dev/null | json_rate)"
  done
  echo "round $round done" >&2
done
for m in train idx shapes; do
  echo "$m $(median ${runs[old,$m]}) $(median ${runs[new,$m]})"
done | $py -c "
import sys
labels = {'train': '\`zoo train lenet5 --epochs 1 --threads 1\`',
          'idx': '\`zoo bench lenet5 --data fashion-mnist --threads 1\` (in-memory idx, 2 workers)',
          'shapes': '\`zoo bench resnet18 --data shapes --threads 1\` (generated, crop + flip)'}
print('| measure | OLD img/s | NEW img/s | NEW / OLD |')
print('|---|---|---|---|')
for line in sys.stdin:
    m, o, n = line.split()
    o, n = float(o), float(n)
    print(f'| {labels[m]} | {o:,.0f} | {n:,.0f} | **{n / o:.3f}x** |')
" > "$tmp/tables.md"
bench_block "${args[@]}" < "$tmp/tables.md"
