#!/usr/bin/env bash
# zoo vs PyTorch on the character-level LSTM, side by side in one run: the same model
# (embedding 64, 2-layer LSTM 256), stream batches (32 streams x 64 characters), Adam at 2e-3
# with gradient clipping at 5 and a constant rate, STEPS steps on the same text (Debian's
# license texts, /usr/share/common-licenses, concatenated), at 1 and 2 intra-op threads. zoo
# and PyTorch alternate for ROUNDS rounds; medians of the training throughput (characters/s)
# and the validation bits per character after STEPS steps are printed, with their ratio and
# each round's ratio (at 2 threads these machines vary by up to +-30% from run to run).
# Then zoo under bf16 autocast against PyTorch fp32 (at 1 and 2 threads), and both under bf16
# autocast (PyTorch's torch.autocast on the CPU) at 2 threads.
#   scripts/bench/charlm.sh [ROUNDS] [STEPS] [SETTINGS]   (defaults 5, 100, all)
# SETTINGS picks rows by number, comma-separated: 1 fp32 at 1 thread, 2 fp32 at 2 threads, 3 zoo
# bf16 vs PyTorch fp32 at 1 thread, 4 the same at 2 threads, 5 bf16 vs bf16 at 2 threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-5} steps=${2:-100} settings=${3:-1,2,3,4,5}
[ -x build/zoo ] || scripts/setup.sh
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text=$tmp/licenses.txt
find -L /usr/share/common-licenses -type f | LC_ALL=C sort | xargs cat > "$text"
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }
field() { $py -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
zoo_run() {  # threads name [extra flags]: prints chars/s and val bpc of the (only) epoch row
  local threads=$1 name=$2; shift 2
  build/zoo train charlm --data "$text" --max-steps "$steps" --epochs 100 --batch-size 32 --seq-len 64 \
    --schedule constant --threads "$threads" --quiet --name "$name" --runs-dir "$tmp/runs" "$@" >/dev/null 2>"$tmp/log" \
    || { cat "$tmp/log" >&2; return 1; }
  $py -c "import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get('kind')=='epoch']
assert len(rows)==1, 'STEPS must end inside the first epoch'
print(rows[0]['chars_per_s'], rows[0]['val_bpc'])" "$tmp/runs/$name/metrics.jsonl"
}
row() {  # label zoo_cps torch_cps zoo_bpc torch_bpc round_ratios
  $py -c "import sys; l,z,p,zb,pb=sys.argv[1],*map(float,sys.argv[2:6]); print(f'{l:<26} {z:10.0f} {p:12.0f} {z/p:7.2f}x {zb:9.3f} {pb:11.3f}   {sys.argv[6]}')" "$@"
}
echo "charlm, 2 x LSTM 256, 32 x 64 characters per step, $steps steps, medians of $rounds alternating rounds"
printf "%-26s %10s %12s %8s %9s %11s   %s\n" setting "zoo char/s" "torch char/s" ratio "zoo bpc" "torch bpc" "each round's ratio"
run_pair() {  # label threads zoo_flags torch_flags
  local label=$1 threads=$2 zflags=$3 pflags=$4 zc=() pc=() zb=() pb=()
  for round in $(seq "$rounds"); do
    read -r c b < <(zoo_run "$threads" "run-$RANDOM$RANDOM" $zflags)
    zc+=("$c") zb+=("$b")
    out=$($py scripts/bench/charlm_torch.py --data "$text" --threads "$threads" --steps "$steps" $pflags)
    pc+=("$(echo "$out" | field chars_per_s)") pb+=("$(echo "$out" | field val_bpc)")
  done
  ratios=$($py -c "import sys; n=len(sys.argv)//2; print(' '.join(f'{float(z)/float(p):.2f}' for z,p in zip(sys.argv[1:n+1], sys.argv[n+1:])))" "${zc[@]}" "${pc[@]}")
  row "$label" "$(median "${zc[@]}")" "$(median "${pc[@]}")" "$(median "${zb[@]}")" "$(median "${pb[@]}")" "$ratios"
}
want() { [[ ",$settings," == *",$1,"* ]]; }
want 1 && run_pair "fp32, 1 thread" 1 "" ""
want 2 && run_pair "fp32, 2 threads" 2 "" ""
want 3 && run_pair "zoo bf16 vs torch fp32, 1t" 1 "--precision bf16" ""
want 4 && run_pair "zoo bf16 vs torch fp32, 2t" 2 "--precision bf16" ""
want 5 && run_pair "bf16 vs bf16, 2 threads" 2 "--precision bf16" "--bf16"
exit 0
