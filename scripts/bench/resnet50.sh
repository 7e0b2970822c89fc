#!/usr/bin/env bash
# zoo vs PyTorch on one ResNet-50 training step (forward + cross-entropy + backward + SGD
# momentum step) on synthetic 3x224x224 input, side by side in one run: the same batch, thread
# count, precision and layout on both sides (scripts/bench/resnet50_torch.py is the peer).
# Four configurations alternate for ROUNDS rounds (these shared machines drift minute to
# minute): zoo fp32, PyTorch fp32, zoo bf16 channels-last, PyTorch bf16 channels-last. Prints
# the median images/s of each, the ratios, zoo's achieved GFLOP/s and its share of the matmul
# peak from `zoo bench --peak` at the same thread count.
#   scripts/bench/resnet50.sh [ROUNDS] [BATCH] [THREADS]     (defaults 3, 16, 2; WARMUP=2 ITERS=5)
# ATEN_CPU_CAPABILITY is left as it is for both sides (inherited from the environment).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-3} batch=${2:-16} threads=${3:-2}
warmup=${WARMUP:-2} iters=${ITERS:-5}
[ -x build/zoo ] || scripts/setup.sh
py=/usr/bin/python3
field() { $py -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

echo "# $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg), batch $batch, threads $threads, $rounds rounds of $warmup warm-up + $iters timed steps, ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default}"
peak=$(build/zoo bench --peak --threads "$threads" --json)
peak_fp32=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][0]['gflops'])" <<<"$peak")
peak_bf16=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][1]['gflops'])" <<<"$peak")
printf "matmul peak, %s threads: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n" "$threads" "$peak_fp32" "$peak_bf16"

zoo_fp32=() py_fp32=() zoo_bf16=() py_bf16=()
for round in $(seq "$rounds"); do
  common=(--batch-size "$batch" --threads "$threads" --warmup "$warmup" --iters "$iters")
  zoo_fp32+=("$(build/zoo bench resnet50 --mode train "${common[@]}" --no-peak --json | field images_per_s)")
  py_fp32+=("$($py scripts/bench/resnet50_torch.py "${common[@]}" | field images_per_s)")
  zoo_bf16+=("$(build/zoo bench resnet50 --mode train "${common[@]}" --precision bf16 --channels-last --no-peak --json | field images_per_s)")
  py_bf16+=("$($py scripts/bench/resnet50_torch.py "${common[@]}" --precision bf16 --channels-last | field images_per_s)")
  printf "round %s: zoo fp32 %.2f, torch fp32 %.2f, zoo bf16-cl %.2f, torch bf16-cl %.2f img/s, load %s\n" \
    "$round" "${zoo_fp32[-1]}" "${py_fp32[-1]}" "${zoo_bf16[-1]}" "${py_bf16[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
done
$py - "$(median "${zoo_fp32[@]}")" "$(median "${py_fp32[@]}")" "$(median "${zoo_bf16[@]}")" \
  "$(median "${py_bf16[@]}")" "$peak_fp32" "$peak_bf16" <<'PY'
import sys
zf, pf, zb, pb, peak32, peak16 = map(float, sys.argv[1:])
flops = 2 * 4089184256 * 3  # per image: 2 FLOPs per MAC, training step = 3 forwards
print(f"{'configuration':<34} {'img/s':>8} {'GFLOP/s':>8} {'% of peak':>9}")
for name, ips, peak in [("zoo fp32", zf, peak32), ("PyTorch fp32", pf, peak32),
                        ("zoo bf16 channels-last", zb, peak16), ("PyTorch bf16 channels-last", pb, peak16)]:
    print(f"{name:<34} {ips:8.2f} {ips * flops / 1e9:8.1f} {100 * ips * flops / 1e9 / peak:8.0f}%")
print(f"zoo fp32 / PyTorch fp32:                {zf / pf:.2f}x  (target >= 1.0)")
print(f"zoo bf16-cl / PyTorch fp32:             {zb / pf:.2f}x  (target >= 2.0)")
print(f"zoo bf16-cl / PyTorch bf16-cl:          {zb / pb:.2f}x")
PY
