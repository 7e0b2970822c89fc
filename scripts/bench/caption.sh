#!/usr/bin/env bash
# zoo's captioner against its PyTorch peer (caption_torch.py) on the same COCO-layout data,
# the same wall-clock budget, one intra-op thread each (--threads 1 on both sides) and zoo's
# glibc malloc settings for the peer (GLIBC_TUNABLES), run side by side (one core each):
#   1. `zoo data export shapes-captions` writes TRAIN / VAL generated scenes at SIZE px in COCO
#      captions layout (train2017/, val2017/, annotations/captions_{train,val}2017.json);
#   2. `zoo train captioner --backbone resnet18 --input-size SIZE --threads 1` and
#      caption_torch.py (torchvision resnet18 from scratch, the same decoder and recipe) both get
#      SIGTERM after MINUTES (timeout -s TERM); zoo keeps its best.pt, the script its best weights;
#   3. both caption val2017 with beam 3 (length normalisation 0.7), and NLTK's corpus_bleu (which
#      zoo's BLEU equals to 1e-6, tests/test_caption_metrics.cpp) scores both against the same
#      references.
# Printed (a markdown block, scripts/bench/common.sh): per side the epochs finished in the
# budget, the median training seconds per epoch (validation left out), the best greedy val BLEU-4
# of an epoch and the beam-3 BLEU scores; then zoo / PyTorch training speed at equal threads and
# malloc settings (the headline) and the BLEU-4 difference.
# Usage: scripts/bench/caption.sh [MINUTES=25] [TRAIN=3000] [VAL=500] [SIZE=128] [OUT=/tmp/zoo-caption-bench] [SEED=42]
#        scripts/bench/caption.sh --smoke   (64 / 16 scenes at 32 px, 2 epochs each, seconds;
#                                           what the ctest label `bench` runs)
# (SEED seeds both trainings: initial weights, shuffling, the reference picked per image; the
# data is the same for every seed.)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
minutes=${1:-25}
train=${2:-3000}
val=${3:-500}
size=${4:-128}
out=${5:-/tmp/zoo-caption-bench}
seed=${6:-42}
args=("$minutes" "$train" "$val" "$size" "$out" "$seed")
budget=${minutes}m budget_label="$minutes min" epochs=100 eval_threads=2
if [ "$smoke" = 1 ]; then
  train=64 val=16 size=32 out=$(mktemp -d) budget=60s budget_label="60 s" epochs=2 eval_threads=1 args=(--smoke)
  trap 'rm -rf "$out"' EXIT
fi

rm -rf "$out" && mkdir -p "$out"
$zoo data export shapes-captions --out "$out/data" --train "$train" --val "$val" --size "$size" >&2

echo "training both for $budget_label (at most $epochs epochs), one thread each ..." >&2
( timeout -s TERM "$budget" $zoo train captioner --data "$out/data" --backbone resnet18 --input-size "$size" \
    --threads 1 --workers 1 --epochs "$epochs" --seed "$seed" --runs-dir "$out/runs" --name zoo > "$out/zoo_train.log" 2>&1 || true ) &
zoo_pid=$!
( env "$zoo_malloc" timeout -s TERM "$budget" $py scripts/bench/caption_torch.py --data "$out/data" --size "$size" --threads 1 \
    --epochs "$epochs" --seed "$seed" --out "$out/torch_captions.json" > "$out/torch_train.log" 2>&1 || true ) &
torch_pid=$!
wait $zoo_pid $torch_pid
test -f "$out/runs/zoo/checkpoints/best.pt" || { echo "zoo left no best.pt" >&2; cat "$out/zoo_train.log" >&2; exit 1; }
test -f "$out/torch_captions.json" || { echo "caption_torch.py wrote no captions" >&2; cat "$out/torch_train.log" >&2; exit 1; }

$zoo eval --weights "$out/runs/zoo/checkpoints/best.pt" --data "$out/data" --beam 3 --threads "$eval_threads" --json > "$out/zoo_eval.json"

$py - "$out" "$budget_label" <<'EOF' > "$out/tables.md"
import json, os, re, statistics, sys, warnings
warnings.filterwarnings("ignore", category=UserWarning, module="nltk")  # BLEU 0 of tiny (smoke) runs
sys.path.insert(0, "scripts/bench")
from caption_torch import tokenize
from nltk.translate.bleu_score import corpus_bleu
out, budget = sys.argv[1], sys.argv[2]
ann = json.load(open(os.path.join(out, "data/annotations/captions_val2017.json")))
files = {im["id"]: im["file_name"] for im in ann["images"]}
refs = {}
for a in ann["annotations"]:
    refs.setdefault(files[a["image_id"]], []).append(tokenize(a["caption"]))
zoo = {os.path.basename(r["image"]): r["caption"].split() for r in json.load(open(os.path.join(out, "zoo_eval.json")))["per_image"]}
torch_caps = {r["file_name"]: r["caption"].split() for r in json.load(open(os.path.join(out, "torch_captions.json")))}
names = sorted(refs)
bleu = {}
for who, caps in (("zoo", zoo), ("pytorch", torch_caps)):
    hyps = [caps.get(n, []) for n in names]
    bleu[who] = [corpus_bleu([refs[n] for n in names], hyps, weights=w) for w in
                 ((1, 0, 0, 0), (.5, .5, 0, 0), (1/3, 1/3, 1/3, 0), (.25, .25, .25, .25))]
for n in names[:3]:
    print(f"{n}: zoo '{' '.join(zoo.get(n, []))}' | pytorch '{' '.join(torch_caps.get(n, []))}' | ref '{' '.join(refs[n][0])}'",
          file=sys.stderr)
# Epochs finished in the budget: zoo's epoch rows, the peer's "epoch N: ..." lines.
zrows = [json.loads(l) for l in open(os.path.join(out, "runs/zoo/metrics.jsonl")) if '"kind":"epoch"' in l]
zoo_epochs = [(r["epoch"], r["epoch_seconds"], r["val_bleu4"]) for r in zrows]
pat = re.compile(r"^epoch (\d+): .*val greedy BLEU-4 ([0-9.]+), training ([0-9.]+) s", re.M)
torch_epochs = [(int(e), float(t), float(b)) for e, b, t in pat.findall(open(os.path.join(out, "torch_train.log")).read())]
if not zoo_epochs or not torch_epochs:
    sys.exit("a side finished no epoch in the budget")
def side(label, malloc, epochs, scores):
    seconds = statistics.median(t for _, t, _ in epochs)
    e, _, b = max(epochs, key=lambda x: x[2])
    print(f"| {label} | {malloc} | {len(epochs)} | {seconds:,.1f} | {b:.3f} ({e}) | "
          + " | ".join(f"{s:.3f}" for s in scores) + " |")
    return seconds
print(f"| program (1 thread each, side by side) | malloc | epochs in {budget} | training s per epoch (median) | "
      "best val greedy BLEU-4 (epoch) | beam-3 BLEU-1 | beam-3 BLEU-2 | beam-3 BLEU-3 | beam-3 BLEU-4 |")
print("|---|---|---|---|---|---|---|---|---|")
zs = side("zoo", "zoo's settings", zoo_epochs, bleu["zoo"])
ts = side("PyTorch", "zoo's settings", torch_epochs, bleu["pytorch"])
print()
print(f"| comparison ({len(names)} val images) | value |")
print("|---|---|")
print(f"| zoo / PyTorch training speed (epochs per second), equal threads and malloc | **{ts / zs:.2f}x** |")
print(f"| beam-3 BLEU-4, zoo minus PyTorch | {bleu['zoo'][3] - bleu['pytorch'][3]:+.3f} |")
EOF
bench_block "${args[@]}" < "$out/tables.md"
echo "zoo epochs:" >&2; grep -E "epoch [0-9]+/" "$out/zoo_train.log" | tail -n 3 >&2 || true
echo "pytorch epochs:" >&2; grep -E "^epoch" "$out/torch_train.log" | tail -n 3 >&2 || true
