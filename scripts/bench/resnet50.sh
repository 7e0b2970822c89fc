#!/usr/bin/env bash
# zoo vs PyTorch on one ResNet-50 training step (forward + cross-entropy + backward + SGD
# momentum step) on synthetic 3x224x224 input, side by side in one run: the same batch, thread
# count (--threads on both sides), precision and layout (scripts/bench/resnet50_torch.py is the
# peer). Six configurations alternate for ROUNDS rounds: zoo, PyTorch with zoo's malloc settings
# (glibc tunables equal to app/engine/allocator.cpp; the headline, equal threads and allocator)
# and PyTorch as installed, each in fp32 and in bf16 autocast channels-last. Two figures per
# configuration: the median over rounds of each run's median step, and the best single step over
# all rounds. On these shared 2-core machines another process on the cores makes 2-thread steps
# several times slower (OpenMP barriers), so medians swing with the neighbours; the best step
# is the speed on free cores. Also printed: GFLOP/s (zoo's accounting of what a step computes,
# `zoo bench --help`) and the share of the peak from `zoo bench --peak` at the same threads,
# and each process's peak resident memory (/usr/bin/time's maximum RSS, median over rounds).
# Output: a markdown block (scripts/bench/common.sh).
#   scripts/bench/resnet50.sh [ROUNDS] [BATCH] [THREADS]     (defaults 3, 16, 2; WARMUP=2 ITERS=5)
#   scripts/bench/resnet50.sh --smoke      (1 round, batch 2, 1 thread, 0 warm-up + 1 timed step;
#                                           what the ctest label `bench` runs)
# ATEN_CPU_CAPABILITY is left as it is for both sides (inherited from the environment).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-3} batch=${2:-16} threads=${3:-2}
warmup=${WARMUP:-2} iters=${ITERS:-5}
args=("$rounds" "$batch" "$threads")
[ -z "${WARMUP:-}${ITERS:-}" ] || bench_env="WARMUP=$warmup ITERS=$iters"
if [ "$smoke" = 1 ]; then rounds=1 batch=2 threads=1 warmup=0 iters=1 bench_env="" args=(--smoke); fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg), batch $batch, threads $threads, $rounds rounds of $warmup warm-up + $iters timed steps, ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default}" >&2
peak=$($zoo bench --peak --threads "$threads" --json)
peak_fp32=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][0]['gflops'])" <<<"$peak")
peak_bf16=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][1]['gflops'])" <<<"$peak")
printf "peak, %s threads: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n" "$threads" "$peak_fp32" "$peak_bf16" >&2

common=(--batch-size "$batch" --threads "$threads" --warmup "$warmup" --iters "$iters")
bf16=(--precision bf16 --channels-last)
peer=("$py" scripts/bench/resnet50_torch.py)
declare -A runs  # configuration -> "median_s,best_s,max_rss_kib ..." (one triple per round)
record() {  # record NAME COMMAND...: runs it under /usr/bin/time for its peak resident memory
  local name=$1; shift
  /usr/bin/time -f %M -o "$tmp/rss" "$@" > "$tmp/json"
  runs[$name]+="$($py -c "import json,sys; j=json.load(open(sys.argv[1])); print(f\"{j['median_s']},{min(j['step_seconds'])},{open(sys.argv[2]).read().split()[-1]}\")" "$tmp/json" "$tmp/rss") "
}
for round in $(seq "$rounds"); do
  record zoo_fp32 "$zoo" bench resnet50 --mode train "${common[@]}" --no-peak --json
  # What a training step computes (zoo's FLOP accounting, `zoo bench --help`), for GFLOP/s.
  step_macs=$($py -c "import json,sys; print(json.load(open(sys.argv[1]))['step_macs_per_image'])" "$tmp/json")
  record torch_fp32_same_malloc env "$zoo_malloc" "${peer[@]}" "${common[@]}"
  record torch_fp32 "${peer[@]}" "${common[@]}"
  record zoo_bf16_cl "$zoo" bench resnet50 --mode train "${common[@]}" "${bf16[@]}" --no-peak --json
  record torch_bf16_cl_same_malloc env "$zoo_malloc" "${peer[@]}" "${common[@]}" "${bf16[@]}"
  record torch_bf16_cl "${peer[@]}" "${common[@]}" "${bf16[@]}"
  echo "round $round done, load $(cut -d' ' -f1 /proc/loadavg)" >&2
done
pairs=()
for k in "${!runs[@]}"; do pairs+=("$k=${runs[$k]}"); done
$py - "$batch" "$threads" "$peak_fp32" "$peak_bf16" "$step_macs" "${pairs[@]}" <<'PY' > "$tmp/tables.md"
import statistics, sys
batch, threads, peak32, peak16 = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
runs = {}
for arg in sys.argv[6:]:
    name, triples = arg.split("=", 1)
    runs[name] = [tuple(map(float, p.split(","))) for p in triples.split()]
flops = 2 * int(sys.argv[5])  # per image: 2 FLOPs per multiply-add of the step
labels = {
    "zoo_fp32": "zoo fp32",
    "torch_fp32_same_malloc": "PyTorch fp32, zoo's malloc settings",
    "torch_fp32": "PyTorch fp32 as installed",
    "zoo_bf16_cl": "zoo bf16 channels-last",
    "torch_bf16_cl_same_malloc": "PyTorch bf16 channels-last, zoo's malloc settings",
    "torch_bf16_cl": "PyTorch bf16 channels-last as installed",
}
median = {k: batch / statistics.median(m for m, _, _ in r) for k, r in runs.items()}
best = {k: batch / min(b for _, b, _ in r) for k, r in runs.items()}
rss = {k: statistics.median(m for _, _, m in r) / 1024 for k, r in runs.items()}  # MiB
s = "s" if threads != 1 else ""
print(f"| configuration (batch {batch}, {threads} thread{s}) | img/s (median) | GFLOP/s | "
      f"% of peak (fp32 {peak32:.1f}, bf16 {peak16:.1f} GFLOP/s) | img/s (best step) | max RSS (MiB) |")
print("|---|---|---|---|---|---|")
for k, label in labels.items():
    gflops = median[k] * flops / 1e9
    peak = peak16 if "bf16" in k else peak32
    print(f"| {label} | {median[k]:.2f} | {gflops:.0f} | {100 * gflops / peak:.0f}% | {best[k]:.2f} | {rss[k]:,.0f} |")
print()
print("| ratio (equal threads, PyTorch with zoo's malloc settings unless marked) | median | best step |")
print("|---|---|---|")
for num, den, label, bold in [
        ("zoo_fp32", "torch_fp32_same_malloc", "zoo fp32 / PyTorch fp32 (target >= 1.0)", True),
        ("zoo_bf16_cl", "torch_bf16_cl_same_malloc", "zoo bf16 channels-last / PyTorch bf16 channels-last", True),
        ("zoo_bf16_cl", "torch_fp32_same_malloc", "zoo bf16 channels-last / PyTorch fp32 (target >= 2.0)", False),
        ("zoo_fp32", "torch_fp32", "zoo fp32 / PyTorch fp32 as installed", False),
        ("zoo_bf16_cl", "torch_bf16_cl", "zoo bf16 channels-last / PyTorch bf16 channels-last as installed", False),
        ("zoo_bf16_cl", "torch_fp32", "zoo bf16 channels-last / PyTorch fp32 as installed", False)]:
    m = f"{median[num] / median[den]:.2f}x"
    print(f"| {label} | {f'**{m}**' if bold else m} | {best[num] / best[den]:.2f}x |")
print()
print("| peak resident memory (median over rounds) | zoo / PyTorch with zoo's malloc settings | zoo / PyTorch as installed |")
print("|---|---|---|")
for z, t, label in [("zoo_fp32", "torch_fp32", "fp32 (target <= 1.3)"),
                    ("zoo_bf16_cl", "torch_bf16_cl", "bf16 channels-last")]:
    print(f"| {label} | {rss[z] / rss[t + '_same_malloc']:.2f}x | {rss[z] / rss[t]:.2f}x |")
PY
bench_block "${args[@]}" < "$tmp/tables.md"
