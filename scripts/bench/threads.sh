#!/usr/bin/env bash
# zoo's default thread count (no --threads: the available cores idle at the start, OpenMP
# spinning capped by GOMP_SPINCOUNT=10000; common/device.h, app/main.cpp) against explicit
# counts, on this machine as it is and beside other work:
#   quiet       nothing else running;
#   loaded      LOAD busy-loop processes (default 2) started before zoo and running throughout;
#   late load   the same processes started 3 s after zoo, when zoo has already chosen its threads.
# Two jobs: one epoch of `zoo train lenet5` (its epoch row's images_per_s) and `zoo bench
# resnet50 --batch-size 8` (img/s of the median step). Each row is the median over ROUNDS rounds
# in which the configurations alternate. The late-load rows also run the default with libgomp's
# own spin count (GOMP_SPINCOUNT=300000), to show what the cap buys. Prints a markdown block
# (scripts/bench/common.sh).
#   scripts/bench/threads.sh [ROUNDS=3] [LOAD=2]      (FASHION_MNIST=DIR)
#   scripts/bench/threads.sh --smoke                  (1 round, tiny data, resnet18 at batch 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-3}
load=${2:-2}
data=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
cores=$(nproc)
tmp=$(mktemp -d)
busy=()
stop_load() { [ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null || true; wait "${busy[@]}" 2>/dev/null || true; busy=(); }
trap 'stop_load; rm -rf "$tmp"' EXIT
args=("$rounds" "$load")
model=resnet50 batch=8 bench_steps=(--warmup 1 --iters 3) late=3
if [ "$smoke" = 1 ]; then
  rounds=1 data=$tmp/data args=(--smoke) model=resnet18 batch=2 bench_steps=(--warmup 0 --iters 1) late=1
  bench_tiny_idx "$data" 512 64
fi
start_load() { for _ in $(seq "$load"); do (while :; do :; done) & busy+=($!); done; }

# run JOB CONFIG: prints img/s. CONFIG: default | spin300k | threads=N
run() {
  local job=$1 config=$2 envs=() threads=()
  case $config in
    default) ;;
    spin300k) envs=(GOMP_SPINCOUNT=300000) ;;
    threads=*) threads=(--threads "${config#threads=}") ;;
  esac
  rm -rf "$tmp/runs"
  if [ "$job" = lenet5 ]; then
    env "${envs[@]}" "$zoo" train lenet5 --data "$data" --epochs 1 --batch-size 64 "${threads[@]}" \
      --quiet --name r --runs-dir "$tmp/runs" >/dev/null 2>"$tmp/log" || { cat "$tmp/log" >&2; exit 1; }
    $py -c "import json,sys; print(next(r for r in map(json.loads, open(sys.argv[1])) if r.get('kind') == 'epoch')['images_per_s'])" "$tmp/runs/r/metrics.jsonl"
  else
    env "${envs[@]}" "$zoo" bench "$model" --mode train --batch-size "$batch" "${bench_steps[@]}" "${threads[@]}" \
      --no-peak --json 2>"$tmp/log" >"$tmp/bench.json" || { cat "$tmp/log" >&2; exit 1; }
    $py -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['batch_size'] / j['median_s'])" "$tmp/bench.json"
  fi
}

declare -A results  # "scenario job config" -> img/s per round
configs_quiet="default threads=1"
for t in $(seq 2 "$cores"); do configs_quiet+=" threads=$t"; done
for round in $(seq "$rounds"); do
  for job in lenet5 "$model"; do
    for config in $configs_quiet; do results["quiet $job $config"]+="$(run "$job" "$config") "; done
    start_load
    for config in default threads=1; do results["loaded $job $config"]+="$(run "$job" "$config") "; done
    stop_load
    for config in default spin300k threads=1; do
      (trap 'stop_load; exit 0' TERM; sleep "$late" & wait $!; start_load; wait) & late_pid=$!
      results["late $job $config"]+="$(run "$job" "$config") "
      kill "$late_pid" 2>/dev/null || true; wait "$late_pid" 2>/dev/null || true
    done
  done
  echo "round $round done" >&2
done
for key in "${!results[@]}"; do echo "$key ${results[$key]}"; done > "$tmp/results"
$py - "$tmp/results" "$cores" "$load" "$model" "$batch" <<'PY' > "$tmp/tables.md"
import statistics, sys
path, cores, load, model, batch = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
res = {}
for line in open(path):
    scenario, job, config, *vals = line.split()
    res[scenario, job, config] = statistics.median(map(float, vals))
def name(c):
    return {"default": "default (no --threads)", "spin300k": "default, GOMP_SPINCOUNT=300000",
            "threads=1": "--threads 1"}.get(c, c.replace("threads=", "--threads "))
jobs = [("lenet5", "`zoo train lenet5`, 1 epoch"), (model, f"`zoo bench {model} --batch-size {batch}`")]
print(f"| job | scenario | configuration | img/s | default / this |")
print("|---|---|---|---|---|")
for job, label in jobs:
    for scenario, title in (("quiet", "quiet"), ("loaded", f"{load} busy jobs"), ("late", f"{load} busy jobs from 3 s on")):
        d = res[scenario, job, "default"]
        configs = sorted(c for s, j, c in res if s == scenario and j == job)
        configs.sort(key=lambda c: (c != "default", c))
        for c in configs:
            v = res[scenario, job, c]
            ratio = "" if c == "default" else f"{d / v:.2f}x"
            print(f"| {label} | {title} | {name(c)} | {v:,.1f} | {ratio} |")
print()
print("| job | default / best explicit, quiet (target >= 0.9) | default / --threads 1, loaded (target >= 0.5) | default / --threads 1, late load |")
print("|---|---|---|---|")
for job, label in jobs:
    best = max(v for (s, j, c), v in res.items() if s == "quiet" and j == job and c.startswith("threads="))
    q = res["quiet", job, "default"] / best
    l = res["loaded", job, "default"] / res["loaded", job, "threads=1"]
    late = res["late", job, "default"] / res["late", job, "threads=1"]
    print(f"| {label} | **{q:.2f}x** | **{l:.2f}x** | {late:.2f}x |")
PY
bench_block "${args[@]}" < "$tmp/tables.md"
