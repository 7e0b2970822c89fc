#!/usr/bin/env bash
# Data-parallel training on this machine, zoo against PyTorch, and what it would be on a cluster.
# For each model, the same global batch and the same cores, alternating rounds, medians:
#   1 rank  x --threads CORES (the whole machine in one process),
#   RANKS ranks x --threads CORES/RANKS (zoo train --nproc RANKS),
# each for zoo and for its PyTorch peer (scripts/bench/ddp_torch.py: DistributedDataParallel
# over Gloo, the same model, optimizer, per-rank batch and threads, and zoo's malloc settings
# through GLIBC_TUNABLES): training images/s over STEPS steps (zoo: the epoch row's
# images_per_s, all ranks' images over the epoch's wall time), the MB all-reduced per step and
# the all-reduce milliseconds per step that zoo's backward pass did not hide
# (allreduce_wait_ms). The headline is zoo / PyTorch at RANKS ranks, like with like. Then a model
# of a cluster: the compute time of one step of the per-rank batch (measured here, 1 rank at
# CORES/RANKS threads) against a ring all-reduce of the gradients (2 (N-1)/N x bytes at a
# link speed), for N ranks at 10 and 100 Gb/s. Output: a markdown block (scripts/bench/common.sh).
# Usage: scripts/bench/ddp.sh [--smoke] [ROUNDS=3] [STEPS=30] [OUT=/tmp/zoo-ddp]   (CORES=N)
#   --smoke: one round of 3 steps of lenet5 only, on a tiny generated dataset (what the ctest
#   label `bench` runs, to keep this script from going stale).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-3}
steps=${2:-30}
out=${3:-/tmp/zoo-ddp}
args=("$rounds" "$steps" "$out")
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
cores=${CORES:-$(nproc)}
[ -z "${CORES:-}" ] || bench_env="CORES=$CORES"
ranks=2
models="lenet5:64 resnet18:32"
if [ "$smoke" = 1 ]; then
  rounds=1; steps=3; models="lenet5:16"; out=$(mktemp -d); data="$out/data"; args=(--smoke)
  bench_tiny_idx "$data" 256 64
fi
per_rank_threads=$(( cores / ranks > 0 ? cores / ranks : 1 ))
rm -rf "$out/runs"; mkdir -p "$out/runs"
epoch_row() { grep '"kind":"epoch"' "$1/metrics.jsonl" | tail -n 1; }
for spec in $models; do
  model=${spec%%:*}; batch=${spec##*:}
  for round in $(seq 1 "$rounds"); do
    common="train $model --data $data --epochs 1 --limit-batches $steps --limit-val-batches 1 --workers 1 --quiet --runs-dir $out/runs"
    $zoo $common --batch-size $((batch * ranks)) --threads "$cores" --name "$model-one-$round" > /dev/null 2>&1
    $zoo $common --batch-size "$batch" --threads "$per_rank_threads" --nproc "$ranks" --name "$model-ddp-$round" > /dev/null 2>&1
    # The compute of one rank's step alone: the cluster model's numerator.
    $zoo $common --batch-size "$batch" --threads "$per_rank_threads" --name "$model-rank-$round" > /dev/null 2>&1
    peer="$py scripts/bench/ddp_torch.py --model $model --data $data --steps $steps"
    env "$zoo_malloc" $peer --batch-size $((batch * ranks)) --threads "$cores" > "$out/runs/torch-$model-one-$round.json"
    env "$zoo_malloc" $peer --batch-size "$batch" --threads "$per_rank_threads" --nproc "$ranks" > "$out/runs/torch-$model-ddp-$round.json"
    echo "$model, round $round done" >&2
  done
done
$py - "$out/runs" "$rounds" "$steps" "$cores" "$ranks" "$per_rank_threads" "$models" <<'PY' > "$out/tables.md"
import json, os, statistics, sys
runs, rounds, steps, cores, ranks, prt, models = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7].split()
def torch_version():
    for f in sorted(os.listdir(runs)):
        if f.endswith(".json"):
            return json.load(open(os.path.join(runs, f))).get("torch", "?")
    return "?"
def row(name):
    rows = [json.loads(l) for l in open(os.path.join(runs, name, "metrics.jsonl")) if '"kind":"epoch"' in l]
    return rows[-1]
def peer(name):
    return json.load(open(os.path.join(runs, name + ".json")))["images_per_s"]
print(f"data-parallel training: {cores} cores, {steps} steps per run, medians of {rounds} alternating rounds; "
      f"PyTorch {torch_version()} DDP over Gloo at equal threads and malloc settings", file=sys.stderr)
print(f"| model | global batch | zoo 1 rank x {cores} threads | zoo {ranks} ranks x {prt} | zoo scaling | "
      f"PyTorch 1 rank x {cores} | PyTorch DDP {ranks} ranks x {prt} | zoo / PyTorch at {ranks} ranks | "
      "MB all-reduced per step | zoo all-reduce wait per step (ms) |")
print("|---|---|---|---|---|---|---|---|---|---|")
cluster = []
for spec in models:
    model, batch = spec.split(":"); batch = int(batch)
    rs = range(1, rounds + 1)
    one = statistics.median(row(f"{model}-one-{r}")["images_per_s"] for r in rs)
    ddp_rows = [row(f"{model}-ddp-{r}") for r in rs]
    ddp = statistics.median(x["images_per_s"] for x in ddp_rows)
    mb = ddp_rows[0]["allreduce_mb"]
    wait = statistics.median(x["allreduce_wait_ms"] for x in ddp_rows)
    rank = statistics.median(row(f"{model}-rank-{r}")["images_per_s"] for r in rs)
    t_one = statistics.median(peer(f"torch-{model}-one-{r}") for r in rs)
    t_ddp = statistics.median(peer(f"torch-{model}-ddp-{r}") for r in rs)
    print(f"| {model} | {batch * ranks} | {one:,.0f} img/s | {ddp:,.0f} img/s | {ddp / one:.2f}x | {t_one:,.0f} img/s | "
          f"{t_ddp:,.0f} img/s | **{ddp / t_ddp:.2f}x** | {mb:.2f} | {wait:.1f} |")
    cluster.append((model, batch, batch / rank * 1000.0, mb))
print()
print("cluster model: compute of one step of the per-rank batch (measured, 1 process at "
      f"{prt} thread(s)) against a ring all-reduce of the gradients, 2 (N-1)/N x MB, at a link speed", file=sys.stderr)
print(f"| model (cluster model) | per-rank batch | compute per step (ms, 1 process x {prt}) | gradients (MB) | "
      "ring all-reduce at 10 Gb/s, N=8 (ms) | at 100 Gb/s, N=8 (ms) | comm / compute at 10 Gb/s |")
print("|---|---|---|---|---|---|---|")
for model, batch, compute_ms, mb in cluster:
    n = 8
    bytes_moved = 2 * (n - 1) / n * mb * 1024 * 1024
    t10 = bytes_moved * 8 / 10e9 * 1000
    t100 = bytes_moved * 8 / 100e9 * 1000
    print(f"| {model} | {batch} | {compute_ms:.1f} | {mb:.2f} | {t10:.1f} | {t100:.2f} | {t10 / compute_ms:.2f} |")
PY
bench_block "${args[@]}" < "$out/tables.md"
if [ "$smoke" = 1 ]; then rm -rf "$out"; fi
