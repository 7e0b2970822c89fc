#!/usr/bin/env bash
# zoo's captioner against its PyTorch peer (caption_torch.py) on the same COCO-layout data,
# the same wall-clock budget and one intra-op thread each, run side by side (one core each):
#   1. `zoo data export shapes-captions` writes TRAIN / VAL generated scenes at SIZE px in COCO
#      captions layout (train2017/, val2017/, annotations/captions_{train,val}2017.json);
#   2. `zoo train captioner --backbone resnet18 --input-size SIZE --threads 1` and
#      caption_torch.py (torchvision resnet18 from scratch, the same decoder and recipe) both get
#      SIGTERM after MINUTES (timeout -s TERM); zoo keeps its best.pt, the script its best weights;
#   3. both caption val2017 with beam 3 (length normalisation 0.7), and NLTK's corpus_bleu (which
#      zoo's BLEU equals to 1e-6, tests/test_caption_metrics.cpp) scores both against the same
#      references.
# Usage: scripts/bench/caption.sh [MINUTES=25] [TRAIN=3000] [VAL=500] [SIZE=128] [OUT=/tmp/zoo-caption-bench] [SEED=42]
# (SEED seeds both trainings: initial weights, shuffling, the reference picked per image; the
# data is the same for every seed.)
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${1:-25}
train=${2:-3000}
val=${3:-500}
size=${4:-128}
out=${5:-/tmp/zoo-caption-bench}
seed=${6:-42}
zoo=build/zoo
py=/usr/bin/python3

rm -rf "$out" && mkdir -p "$out"
$zoo data export shapes-captions --out "$out/data" --train "$train" --val "$val" --size "$size"

echo "training both for $minutes minutes, one thread each ..."
( timeout -s TERM "${minutes}m" $zoo train captioner --data "$out/data" --backbone resnet18 --input-size "$size" \
    --threads 1 --workers 1 --epochs 100 --seed "$seed" --runs-dir "$out/runs" --name zoo > "$out/zoo_train.log" 2>&1 || true ) &
zoo_pid=$!
( timeout -s TERM "${minutes}m" $py scripts/bench/caption_torch.py --data "$out/data" --size "$size" --threads 1 \
    --epochs 100 --seed "$seed" --out "$out/torch_captions.json" > "$out/torch_train.log" 2>&1 || true ) &
torch_pid=$!
wait $zoo_pid $torch_pid
test -f "$out/runs/zoo/checkpoints/best.pt" || { echo "zoo left no best.pt" >&2; exit 1; }

$zoo eval --weights "$out/runs/zoo/checkpoints/best.pt" --data "$out/data" --beam 3 --threads 2 --json > "$out/zoo_eval.json"

$py - "$out" <<'EOF'
import json, os, sys
sys.path.insert(0, "scripts/bench")
from caption_torch import tokenize
from nltk.translate.bleu_score import corpus_bleu
out = sys.argv[1]
ann = json.load(open(os.path.join(out, "data/annotations/captions_val2017.json")))
files = {im["id"]: im["file_name"] for im in ann["images"]}
refs = {}
for a in ann["annotations"]:
    refs.setdefault(files[a["image_id"]], []).append(tokenize(a["caption"]))
zoo = {os.path.basename(r["image"]): r["caption"].split() for r in json.load(open(os.path.join(out, "zoo_eval.json")))["per_image"]}
torch_caps = {r["file_name"]: r["caption"].split() for r in json.load(open(os.path.join(out, "torch_captions.json")))}
names = sorted(refs)
for who, caps in (("zoo", zoo), ("pytorch", torch_caps)):
    hyps = [caps.get(n, []) for n in names]
    scores = [corpus_bleu([refs[n] for n in names], hyps, weights=w) for w in
              ((1, 0, 0, 0), (.5, .5, 0, 0), (1/3, 1/3, 1/3, 0), (.25, .25, .25, .25))]
    print(f"{who:8s} BLEU-1 {scores[0]:.4f}  BLEU-2 {scores[1]:.4f}  BLEU-3 {scores[2]:.4f}  BLEU-4 {scores[3]:.4f}  ({len(names)} val images)")
for n in names[:3]:
    print(f"{n}: zoo '{' '.join(zoo.get(n, []))}' | pytorch '{' '.join(torch_caps.get(n, []))}' | ref '{' '.join(refs[n][0])}'")
EOF
echo "zoo epochs:"; grep -E "epoch [0-9]+/" "$out/zoo_train.log" | tail -n 3 || true
echo "pytorch epochs:"; grep -E "^epoch" "$out/torch_train.log" | tail -n 3 || true
