#!/usr/bin/env bash
# zoo vs PyTorch on the character-level LSTM, side by side in one run: the same model
# (embedding 64, 2-layer LSTM 256), stream batches (32 streams x 64 characters), Adam at 2e-3
# with gradient clipping at 5 and a constant rate, STEPS steps on the same text (Debian's
# license texts, /usr/share/common-licenses, concatenated), at equal intra-op threads (--threads
# on both sides) and with zoo's glibc malloc settings for the peer (GLIBC_TUNABLES). zoo and
# PyTorch (scripts/bench/charlm_torch.py) alternate for ROUNDS rounds; medians of the training
# throughput (characters/s) and the validation bits per character after STEPS steps are
# printed, with their ratio (bold, the headline) and each round's ratio (at 2 threads these
# machines vary by up to +-30% from run to run), as a markdown block (scripts/bench/common.sh).
# Rows: fp32 at 1 and 2 threads; zoo under bf16 autocast against PyTorch fp32 (at 1 and 2
# threads); both under bf16 autocast (PyTorch's torch.autocast on the CPU) at 2 threads.
#   scripts/bench/charlm.sh [ROUNDS] [STEPS] [SETTINGS]   (defaults 5, 100, 1,2,3,4,5)
#   scripts/bench/charlm.sh --smoke    (1 round of 3 steps on 64 kB of the text, settings 1 and 3;
#                                       what the ctest label `bench` runs)
# SETTINGS picks rows by number, comma-separated: 1 fp32 at 1 thread, 2 fp32 at 2 threads, 3 zoo
# bf16 vs PyTorch fp32 at 1 thread, 4 the same at 2 threads, 5 bf16 vs bf16 at 2 threads.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/bench/common.sh
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
rounds=${1:-5} steps=${2:-100} settings=${3:-1,2,3,4,5}
args=("$rounds" "$steps" "$settings")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text=$tmp/licenses.txt
find -L /usr/share/common-licenses -type f | LC_ALL=C sort | xargs cat > "$text"
if [ "$smoke" = 1 ]; then
  rounds=1 steps=3 settings=1,3 args=(--smoke)
  head -c 65536 "$text" > "$tmp/small.txt"
  $py -c "import sys; t=open(sys.argv[1],'rb').read().decode('utf-8','ignore'); open(sys.argv[1],'w').write(t)" "$tmp/small.txt"
  text=$tmp/small.txt
fi
field() { $py -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }
zoo_run() {  # threads name [extra flags]: prints chars/s and val bpc of the (only) epoch row
  local threads=$1 name=$2; shift 2
  $zoo train charlm --data "$text" --max-steps "$steps" --epochs 100 --batch-size 32 --seq-len 64 \
    --schedule constant --threads "$threads" --quiet --name "$name" --runs-dir "$tmp/runs" "$@" >/dev/null 2>"$tmp/log" \
    || { cat "$tmp/log" >&2; return 1; }
  $py -c "import json,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get('kind')=='epoch']
assert len(rows)==1, 'STEPS must end inside the first epoch'
print(rows[0]['chars_per_s'], rows[0]['val_bpc'])" "$tmp/runs/$name/metrics.jsonl"
}
rows=$tmp/rows
: > "$rows"
run_pair() {  # label threads zoo_flags torch_flags
  local label=$1 threads=$2 zflags=$3 pflags=$4 zc=() pc=() zb=() pb=() c b out
  for round in $(seq "$rounds"); do
    read -r c b < <(zoo_run "$threads" "run-$RANDOM$RANDOM" $zflags)
    zc+=("$c") zb+=("$b")
    out=$(env "$zoo_malloc" $py scripts/bench/charlm_torch.py --data "$text" --threads "$threads" --steps "$steps" $pflags)
    pc+=("$(echo "$out" | field chars_per_s)") pb+=("$(echo "$out" | field val_bpc)")
    echo "$label, round $round: zoo ${zc[-1]} char/s, PyTorch ${pc[-1]} char/s" >&2
  done
  ratios=$($py -c "import sys; n=len(sys.argv)//2; print(' '.join(f'{float(z)/float(p):.2f}' for z,p in zip(sys.argv[1:n+1], sys.argv[n+1:])))" "${zc[@]}" "${pc[@]}")
  echo "$label|$(median "${zc[@]}")|$(median "${pc[@]}")|$(median "${zb[@]}")|$(median "${pb[@]}")|$ratios" >> "$rows"
}
want() { [[ ",$settings," == *",$1,"* ]]; }
want 1 && run_pair "fp32, 1 thread" 1 "" ""
want 2 && run_pair "fp32, 2 threads" 2 "" ""
want 3 && run_pair "zoo bf16 vs PyTorch fp32, 1 thread" 1 "--precision bf16" ""
want 4 && run_pair "zoo bf16 vs PyTorch fp32, 2 threads" 2 "--precision bf16" ""
want 5 && run_pair "bf16 vs bf16 (both autocast), 2 threads" 2 "--precision bf16" "--bf16"
$py - "$rows" <<'PY' > "$tmp/tables.md"
import sys
print("| setting (PyTorch with zoo's malloc settings) | zoo char/s | PyTorch char/s | zoo / PyTorch | "
      "zoo val bpc | PyTorch val bpc | each round |")
print("|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    label, z, p, zb, pb, rounds = line.rstrip("\n").split("|")
    z, p, zb, pb = map(float, (z, p, zb, pb))
    print(f"| {label} | {z:,.0f} | {p:,.0f} | **{z / p:.2f}x** | {zb:.3f} | {pb:.3f} | {rounds} |")
PY
bench_block "${args[@]}" < "$tmp/tables.md"
