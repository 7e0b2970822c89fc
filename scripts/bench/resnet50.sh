#!/usr/bin/env bash
# zoo vs PyTorch on one ResNet-50 training step (forward + cross-entropy + backward + SGD
# momentum step) on synthetic 3x224x224 input, side by side in one run: the same batch, thread
# count, precision and layout on both sides (scripts/bench/resnet50_torch.py is the peer).
# Six configurations alternate for ROUNDS rounds: zoo, PyTorch as installed, and PyTorch with
# zoo's malloc settings (glibc tunables equal to app/engine/allocator.cpp), each in fp32 and in
# bf16 autocast channels-last. Two summaries: the median over rounds of each run's median step,
# and each configuration's best single step over all rounds. On these shared 2-core machines
# another process on the cores makes 2-thread steps several times slower (OpenMP barriers), so
# medians swing with the neighbours; the best step is the speed on free cores. Also printed:
# GFLOP/s and the share of the matmul peak from `zoo bench --peak` at the same threads.
#   scripts/bench/resnet50.sh [ROUNDS] [BATCH] [THREADS]     (defaults 3, 16, 2; WARMUP=2 ITERS=5)
# ATEN_CPU_CAPABILITY is left as it is for both sides (inherited from the environment).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3} batch=${2:-16} threads=${3:-2}
warmup=${WARMUP:-2} iters=${ITERS:-5}
[ -x build/zoo ] || scripts/setup.sh
py=/usr/bin/python3
# zoo's keep_freed_memory(): mallopt(M_MMAP_MAX, 0) and mallopt(M_TRIM_THRESHOLD, -1).
same_malloc="GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615"

echo "# $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg), batch $batch, threads $threads, $rounds rounds of $warmup warm-up + $iters timed steps, ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default}"
peak=$(build/zoo bench --peak --threads "$threads" --json)
peak_fp32=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][0]['gflops'])" <<<"$peak")
peak_bf16=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][1]['gflops'])" <<<"$peak")
printf "matmul peak, %s threads: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n" "$threads" "$peak_fp32" "$peak_bf16"

common=(--batch-size "$batch" --threads "$threads" --warmup "$warmup" --iters "$iters")
bf16=(--precision bf16 --channels-last)
declare -A runs  # configuration -> "median_s,best_s median_s,best_s ..." (one pair per round)
record() {  # record NAME JSON
  runs[$1]+="$($py -c "import json,sys; j=json.loads(sys.argv[1]); print(f\"{j['median_s']},{min(j['step_seconds'])}\")" "$2") "
}
for round in $(seq "$rounds"); do
  record zoo_fp32 "$(build/zoo bench resnet50 --mode train "${common[@]}" --no-peak --json)"
  record torch_fp32 "$($py scripts/bench/resnet50_torch.py "${common[@]}")"
  record torch_fp32_same_malloc "$(env "$same_malloc" $py scripts/bench/resnet50_torch.py "${common[@]}")"
  record zoo_bf16_cl "$(build/zoo bench resnet50 --mode train "${common[@]}" "${bf16[@]}" --no-peak --json)"
  record torch_bf16_cl "$($py scripts/bench/resnet50_torch.py "${common[@]}" "${bf16[@]}")"
  record torch_bf16_cl_same_malloc "$(env "$same_malloc" $py scripts/bench/resnet50_torch.py "${common[@]}" "${bf16[@]}")"
  echo "round $round done, load $(cut -d' ' -f1 /proc/loadavg)"
done
args=()
for k in "${!runs[@]}"; do args+=("$k=${runs[$k]}"); done
$py - "$batch" "$peak_fp32" "$peak_bf16" "${args[@]}" <<'PY'
import statistics, sys
batch, peak32, peak16 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
runs = {}
for arg in sys.argv[4:]:
    name, pairs = arg.split("=", 1)
    runs[name] = [tuple(map(float, p.split(","))) for p in pairs.split()]
flops = 2 * 4089184256 * 3  # per image: 2 FLOPs per MAC, training step = 3 forwards
order = ["zoo_fp32", "torch_fp32", "torch_fp32_same_malloc", "zoo_bf16_cl", "torch_bf16_cl",
         "torch_bf16_cl_same_malloc"]
ips = {}
for label, pick in [("median over rounds of the median step", lambda r: statistics.median(m for m, _ in r)),
                    ("best single step over all rounds", lambda r: min(b for _, b in r))]:
    print(f"\n{label}:")
    print(f"  {'configuration':<28} {'img/s':>7} {'GFLOP/s':>8} {'% of peak':>9}   per round (img/s of the median step)")
    for name in order:
        v = batch / pick(runs[name])
        ips[name] = v
        peak = peak16 if "bf16" in name else peak32
        rounds = " ".join(f"{batch / m:.2f}" for m, _ in runs[name])
        print(f"  {name:<28} {v:7.2f} {v * flops / 1e9:8.1f} {100 * v * flops / 1e9 / peak:8.0f}%   {rounds}")
    print(f"  zoo fp32 / PyTorch fp32 {ips['zoo_fp32'] / ips['torch_fp32']:.2f}x (target >= 1.0); "
          f"zoo bf16-cl / PyTorch fp32 {ips['zoo_bf16_cl'] / ips['torch_fp32']:.2f}x (target >= 2.0); "
          f"zoo bf16-cl / PyTorch bf16-cl {ips['zoo_bf16_cl'] / ips['torch_bf16_cl']:.2f}x")
    print(f"  against PyTorch with zoo's malloc settings: fp32 {ips['zoo_fp32'] / ips['torch_fp32_same_malloc']:.2f}x, "
          f"bf16-cl {ips['zoo_bf16_cl'] / ips['torch_bf16_cl_same_malloc']:.2f}x, "
          f"zoo bf16-cl / PyTorch fp32 {ips['zoo_bf16_cl'] / ips['torch_fp32_same_malloc']:.2f}x")
PY
