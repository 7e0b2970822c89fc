#!/usr/bin/env bash
# zoo vs PyTorch on one ResNet-50 training step (forward + cross-entropy + backward + SGD
# momentum step) on synthetic 3x224x224 input, side by side in one run: the same batch, thread
# count, precision and layout on both sides (scripts/bench/resnet50_torch.py is the peer).
# Six configurations alternate for ROUNDS rounds (these shared machines drift minute to
# minute): zoo, PyTorch as installed, and PyTorch with zoo's malloc settings (glibc tunables
# equal to app/engine/allocator.cpp), each in fp32 and in bf16 autocast channels-last. Prints
# the median images/s of each, the ratios, GFLOP/s and the share of the matmul peak from
# `zoo bench --peak` at the same thread count.
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
field() { $py -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

echo "# $(date -u +%FT%TZ), load average: $(cut -d' ' -f1-3 /proc/loadavg), batch $batch, threads $threads, $rounds rounds of $warmup warm-up + $iters timed steps, ATEN_CPU_CAPABILITY=${ATEN_CPU_CAPABILITY:-default}"
peak=$(build/zoo bench --peak --threads "$threads" --json)
peak_fp32=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][0]['gflops'])" <<<"$peak")
peak_bf16=$($py -c "import json,sys; print(json.load(sys.stdin)['peaks'][1]['gflops'])" <<<"$peak")
printf "matmul peak, %s threads: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n" "$threads" "$peak_fp32" "$peak_bf16"

common=(--batch-size "$batch" --threads "$threads" --warmup "$warmup" --iters "$iters")
bf16=(--precision bf16 --channels-last)
zf=() pf=() sf=() zb=() pb=() sb=()
for round in $(seq "$rounds"); do
  zf+=("$(build/zoo bench resnet50 --mode train "${common[@]}" --no-peak --json | field images_per_s)")
  pf+=("$($py scripts/bench/resnet50_torch.py "${common[@]}" | field images_per_s)")
  sf+=("$(env "$same_malloc" $py scripts/bench/resnet50_torch.py "${common[@]}" | field images_per_s)")
  zb+=("$(build/zoo bench resnet50 --mode train "${common[@]}" "${bf16[@]}" --no-peak --json | field images_per_s)")
  pb+=("$($py scripts/bench/resnet50_torch.py "${common[@]}" "${bf16[@]}" | field images_per_s)")
  sb+=("$(env "$same_malloc" $py scripts/bench/resnet50_torch.py "${common[@]}" "${bf16[@]}" | field images_per_s)")
  printf "round %s img/s: fp32 zoo %.2f torch %.2f torch-same-malloc %.2f | bf16-cl zoo %.2f torch %.2f torch-same-malloc %.2f | load %s\n" \
    "$round" "${zf[-1]}" "${pf[-1]}" "${sf[-1]}" "${zb[-1]}" "${pb[-1]}" "${sb[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
done
$py - "$(median "${zf[@]}")" "$(median "${pf[@]}")" "$(median "${sf[@]}")" "$(median "${zb[@]}")" \
  "$(median "${pb[@]}")" "$(median "${sb[@]}")" "$peak_fp32" "$peak_bf16" <<'PY'
import sys
zf, pf, sf, zb, pb, sb, peak32, peak16 = map(float, sys.argv[1:])
flops = 2 * 4089184256 * 3  # per image: 2 FLOPs per MAC, training step = 3 forwards
print(f"{'configuration (medians)':<44} {'img/s':>7} {'GFLOP/s':>8} {'% of peak':>9}")
for name, ips, peak in [("zoo fp32", zf, peak32), ("PyTorch fp32", pf, peak32),
                        ("PyTorch fp32, zoo's malloc settings", sf, peak32),
                        ("zoo bf16 channels-last", zb, peak16), ("PyTorch bf16 channels-last", pb, peak16),
                        ("PyTorch bf16 channels-last, zoo's malloc", sb, peak16)]:
    print(f"{name:<44} {ips:7.2f} {ips * flops / 1e9:8.1f} {100 * ips * flops / 1e9 / peak:8.0f}%")
print(f"zoo fp32 / PyTorch fp32:                     {zf / pf:.2f}x  (target >= 1.0)")
print(f"zoo bf16-cl / PyTorch fp32:                  {zb / pf:.2f}x  (target >= 2.0)")
print(f"zoo bf16-cl / PyTorch bf16-cl:               {zb / pb:.2f}x")
print(f"with the same malloc settings: fp32 {zf / sf:.2f}x, bf16-cl {zb / sb:.2f}x, zoo bf16-cl / PyTorch fp32 {zb / sf:.2f}x")
PY
