#!/usr/bin/env bash
# Transfer learning on Fashion-MNIST, end to end with zoo (no PyTorch peer; every run at one
# intra-op thread, --threads 1): MODEL (resnet18 at the images' own 28x28 and one channel, or
# lenet5) pretrained on classes 0-4 (T-shirt/top .. Coat, every training image, SOURCE_EPOCHS
# epochs), then trained on classes 5-9 (Sandal .. Ankle boot) from PER_CLASS images per class
# under four regimes:
#   scratch   zoo train MODEL (random initialisation)
#   linear    zoo finetune --freeze conv --cache-features at 5x the lr (the pretrained features, a new head)
#   convs     zoo finetune --freeze up-to:layer3 (resnet18) / up-to:features (lenet5): the early
#             layers keep their pretrained weights, the rest retrains
#   full      zoo finetune at a quarter of the learning rate (every layer trains)
# Each regime runs for SEEDS draws of the small training set (with the same --seed), validating
# on one batch per epoch; then `zoo eval` of its last.pt gives the top-1 on all 5,000 test
# images of classes 5-9, reported as median and range (the best median in bold). For lenet5,
# then the --cache-features timing: the linear regime on every training image of classes 5-9
# (30,000), 3 epochs, cached against uncached (same flags, --augment none). Output: a markdown
# block (scripts/bench/common.sh).
#   scripts/bench/transfer.sh [PER_CLASS] [SEEDS] [EPOCHS] [MODEL] [SOURCE_EPOCHS]
#   (defaults 20, 3, 30, resnet18, 3; FASHION_MNIST=DIR)
#   scripts/bench/transfer.sh --smoke   (lenet5 on a tiny generated idx set: 4 images per class,
#                                        1 draw, 1 epoch; what the ctest label `bench` runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
per_class=${1:-20} seeds=${2:-3} epochs=${3:-30} model=${4:-resnet18} source_epochs=${5:-3}
args=("$per_class" "$seeds" "$epochs" "$model" "$source_epochs")
fmnist=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$smoke" = 1 ]; then
  per_class=4 seeds=1 epochs=1 model=lenet5 source_epochs=1 fmnist=$tmp/fmnist args=(--smoke)
  bench_tiny_idx "$fmnist" 1000 200
fi
case $model in
  resnet18) geometry="--input-size 28 --in-channels 1" early=up-to:layer3 ;;
  lenet5) geometry="" early=up-to:features ;;
  *) echo "MODEL must be resnet18 or lenet5" >&2; exit 2 ;;
esac
last() {  # a run's last epoch row's field
  $py -c "import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get('kind')=='epoch']
print(rows[-1][sys.argv[2]])" "$1/metrics.jsonl" "$2"
}
runs=$tmp/runs
common="--quiet --runs-dir $runs --threads 1 $geometry"
test_top1() {  # a run's last.pt on every test image of its data
  $zoo eval --weights "$runs/$1/checkpoints/last.pt" --data "$2" --threads 1 --no-confusion --json 2>/dev/null \
    | $py -c "import json,sys; print(json.load(sys.stdin)['top1'])"
}
quiet() { "$@" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; return 1; }; }  # zoo's log only on failure

$py scripts/bench/make_transfer_data.py "$fmnist" "$tmp/data" "$per_class" 0
quiet $zoo train "$model" --data "$tmp/data/source" --epochs "$source_epochs" --name source $common
source_top1=$(last "$runs/source" val_top1)  # pretrained on classes 0-4, its test top-1
echo "source: test top-1 $source_top1 on classes 0-4" >&2
source_ckpt=$runs/source/checkpoints/best.pt
declare -A top1
for seed in $(seq "$seeds"); do
  $py scripts/bench/make_transfer_data.py "$fmnist" "$tmp/d$seed" "$per_class" "$seed"
  data=$tmp/d$seed/target
  small="--data $data --epochs $epochs --batch-size 10 --seed $seed --limit-val-batches 1 $common"
  quiet $zoo train "$model" $small --lr 0.02 --name scratch-$seed
  quiet $zoo finetune --weights "$source_ckpt" $small --lr 0.1 --freeze conv --augment none --cache-features --name linear-$seed
  quiet $zoo finetune --weights "$source_ckpt" $small --lr 0.02 --freeze "$early" --name convs-$seed
  quiet $zoo finetune --weights "$source_ckpt" $small --lr 0.005 --name full-$seed
  for regime in scratch linear convs full; do top1[$regime]+=" $(test_top1 "$regime-$seed" "$data")"; done
  echo "draw $seed done" >&2
done
tables=$tmp/tables
$py - "$model" "$per_class" "$epochs" "$seeds" "$source_epochs" "$source_top1" "$early" \
  "${top1[scratch]}" "${top1[linear]}" "${top1[convs]}" "${top1[full]}" > "$tables" <<'PY'
import statistics, sys
model, per_class, epochs, seeds, source_epochs, source, early = sys.argv[1:8]
regimes = [("scratch", f"zoo train {model} --lr 0.02"),
           ("linear head", "zoo finetune --freeze conv --cache-features --augment none --lr 0.1"),
           (f"frozen {early}", f"zoo finetune --freeze {early} --lr 0.02"),
           ("full fine-tune", "zoo finetune --lr 0.005")]
values = [[100 * float(v) for v in a.split()] for a in sys.argv[8:12]]
best = max(statistics.median(v) for v in values)
def n(count, word):
    return f"{count} {word}" + ("" if count == "1" else "s")
print(f"| regime ({model}, classes 5-9 from {per_class} images per class, {n(epochs, 'epoch')}, {n(seeds, 'draw')}, 1 thread) "
      "| command | median test top-1 | range |")
print("|---|---|---|---|")
print(f"| source: pretrained on classes 0-4, {n(source_epochs, 'epoch')} (its test top-1) | `zoo train {model}` "
      f"| {100 * float(source):.2f}% | |")
for (name, cmd), v in zip(regimes, values):
    m = statistics.median(v)
    cell = f"**{m:.2f}%**" if m == best else f"{m:.2f}%"
    print(f"| {name} | `{cmd}` | {cell} | {min(v):.2f}-{max(v):.2f}% |")
PY

if [ "$model" = lenet5 ]; then
  full="--data $tmp/data/target-full --epochs 3 --freeze conv --augment none --limit-val-batches 4 $common"
  t0=$(date +%s.%N)
  quiet $zoo finetune --weights "$source_ckpt" $full --name uncached
  t1=$(date +%s.%N)
  quiet $zoo finetune --weights "$source_ckpt" $full --cache-features --name cached
  t2=$(date +%s.%N)
  $py - "$runs" "$t0" "$t1" "$t2" >> "$tables" <<'PY'
import json, statistics, sys
runs, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:])
def rate(run):
    rows = [json.loads(l) for l in open(f"{runs}/{run}/metrics.jsonl")]
    return statistics.median(r["images_per_s"] for r in rows if r.get("kind") == "epoch")
u, c = rate("uncached"), rate("cached")
print()
print("| `--cache-features`, linear head on every training image of classes 5-9, 3 epochs | uncached | cached | cached / uncached |")
print("|---|---|---|---|")
print(f"| training images/s (median epoch) | {u:,.0f} | {c:,.0f} | **{c / u:.1f}x** |")
print(f"| wall time of the whole command (caching included) | {t1 - t0:.1f} s | {t2 - t1:.1f} s | {(t1 - t0) / (t2 - t1):.1f}x |")
PY
fi
bench_block "${args[@]}" < "$tables"
