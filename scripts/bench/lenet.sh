#!/usr/bin/env bash
# zoo vs PyTorch on LeNet-5 / Fashion-MNIST training throughput, side by side in one run:
# same model, batch size 64, optimizer and intra-op thread count (--threads on both sides);
# the Python peer (scripts/bench/lenet_torch.py) holds the data in memory. zoo's figure is the
# images_per_s of the epoch row in metrics.jsonl (the training loop, threaded loader included).
# Each round runs, in turn, one epoch of zoo, of PyTorch with zoo's glibc malloc settings
# (GLIBC_TUNABLES, the headline: equal threads and allocator) and of PyTorch as installed;
# medians over ROUNDS rounds (these shared machines vary by +-20% from minute to minute) and
# their ratios are printed per thread count, as a markdown block (scripts/bench/common.sh).
#   scripts/bench/lenet.sh [ROUNDS] [THREADS]     (defaults 3, 1,2; FASHION_MNIST=DIR)
#   scripts/bench/lenet.sh --smoke                (1 round on a tiny generated dataset, seconds;
#                                                  what the ctest label `bench` runs)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-3}
thread_counts=${2:-1,2}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
args=("$rounds" "$thread_counts")
if [ "$smoke" = 1 ]; then
  rounds=1 data=$tmp/data args=(--smoke)
  bench_tiny_idx "$data" 512 64
fi
epoch_rate() {  # the images_per_s of a run's epoch row
  $py -c "import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get('kind', 'epoch') == 'epoch')['images_per_s'])" "$1/metrics.jsonl"
}
peer_rate() { $py -c "import json,sys; print(json.load(sys.stdin)['images_per_s'])"; }
results=()
for threads in ${thread_counts//,/ }; do
  zoo_runs=() same_runs=() installed_runs=()
  for round in $(seq "$rounds"); do
    $zoo train lenet5 --data "$data" --epochs 1 --threads "$threads" --workers 2 --batch-size 64 \
      --quiet --name "t$threads-$round" --runs-dir "$tmp/runs" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    zoo_runs+=("$(epoch_rate "$tmp/runs/t$threads-$round")")
    peer=("$py" scripts/bench/lenet_torch.py --data "$data" --threads "$threads" --batch-size 64)
    same_runs+=("$(env "$zoo_malloc" "${peer[@]}" | peer_rate)")
    installed_runs+=("$("${peer[@]}" | peer_rate)")
    echo "threads $threads, round $round: zoo ${zoo_runs[-1]}, PyTorch (zoo's malloc) ${same_runs[-1]}, PyTorch as installed ${installed_runs[-1]} img/s" >&2
  done
  results+=("$threads $(median "${zoo_runs[@]}") $(median "${same_runs[@]}") $(median "${installed_runs[@]}")")
done
$py - "${results[@]}" <<'PY' > "$tmp/tables.md"
import sys
rows = [a.split() for a in sys.argv[1:]]
print("| threads | PyTorch malloc | zoo img/s | PyTorch img/s | zoo / PyTorch |")
print("|---|---|---|---|---|")
for t, z, same, _ in rows:
    print(f"| {t} | zoo's settings | {float(z):,.0f} | {float(same):,.0f} | **{float(z) / float(same):.2f}x** |")
for t, z, _, inst in rows:
    print(f"| {t} | as installed | {float(z):,.0f} | {float(inst):,.0f} | {float(z) / float(inst):.2f}x |")
PY
bench_block "${args[@]}" < "$tmp/tables.md"
