#!/usr/bin/env bash
# zoo's training input pipeline vs torchvision's on a folder of ~2,000 JPEGs around 500x375
# (scripts/bench/make_jpeg_folder.py): RandomResizedCrop(224) + RandomHorizontalFlip +
# ToTensor + Normalize into shuffled batches of BATCH with 2 workers and 1 intra-op thread on
# both sides (zoo: `zoo bench --data`, loader threads; torchvision: ImageFolder +
# DataLoader(num_workers=2), processes, scripts/bench/imagefolder_torch.py on Debian's
# /usr/bin/python3). Each round times one epoch of zoo, of torchvision with zoo's glibc malloc
# settings (the headline: equal threads and allocator) and of torchvision as installed; the
# medians over ROUNDS rounds (these shared machines vary from minute to minute) and their
# ratios are printed as a markdown block (scripts/bench/common.sh).
#   scripts/bench/imagefolder.sh [ROUNDS] [IMAGES] [BATCH]     (defaults 3, 2000, 32)
#   JPEGS=DIR scripts/bench/imagefolder.sh                    (reuse a folder written before)
#   scripts/bench/imagefolder.sh --smoke      (1 round, 64 JPEGs, batch 8; what ctest -L bench runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-3}
images=${2:-2000}
batch=${3:-32}
args=("$rounds" "$images" "$batch")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
jpegs=${JPEGS:-$tmp/jpegs}
[ -z "${JPEGS:-}" ] || bench_env="JPEGS=$JPEGS"
if [ "$smoke" = 1 ]; then rounds=1 images=64 batch=8 jpegs=$tmp/jpegs bench_env="" args=(--smoke); fi
[ -d "$jpegs" ] || $py scripts/bench/make_jpeg_folder.py "$jpegs" --images "$images"
count=$(find "$jpegs" -name '*.jpg' | wc -l)
rate() { $py -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
peer=("$py" scripts/bench/imagefolder_torch.py "$jpegs" --batch-size "$batch" --workers 2 --threads 1)
zoo_runs=() same_runs=() installed_runs=()
for round in $(seq "$rounds"); do
  zoo_runs+=("$($zoo bench resnet50 --data "$jpegs" --batch-size "$batch" --workers 2 --threads 1 --json | rate)")
  same_runs+=("$(env "$zoo_malloc" "${peer[@]}" | rate)")
  installed_runs+=("$("${peer[@]}" | rate)")
  echo "round $round: zoo ${zoo_runs[-1]}, torchvision (zoo's malloc) ${same_runs[-1]}, torchvision as installed ${installed_runs[-1]} img/s" >&2
done
$py - "$count" "$batch" "$(median "${zoo_runs[@]}")" "$(median "${same_runs[@]}")" "$(median "${installed_runs[@]}")" <<'PY' > "$tmp/tables.md"
import sys
count, batch = int(sys.argv[1]), int(sys.argv[2])
z, same, inst = map(float, sys.argv[3:6])
print(f"| JPEGs | batch, workers, threads | PyTorch malloc | zoo img/s | torchvision img/s | zoo / torchvision |")
print("|---|---|---|---|---|---|")
print(f"| {count:,} | {batch}, 2, 1 | zoo's settings | {z:,.0f} | {same:,.0f} | **{z / same:.2f}x** |")
print(f"| {count:,} | {batch}, 2, 1 | as installed | {z:,.0f} | {inst:,.0f} | {z / inst:.2f}x |")
PY
bench_block "${args[@]}" < "$tmp/tables.md"
