#!/usr/bin/env bash
# Runs one libFuzzer harness for a while and prints one summary line; used by `ctest -L fuzz`
# (build-fuzz) and scripts/fuzz.sh.
#
#   fuzz/run_fuzzer.sh NAME BINARY SECONDS BUILD_DIR [LIBFUZZER_FLAG...]
#
# Reads the seeds in BUILD_DIR/seeds/NAME (scripts/fuzz_seeds.py), grows the working corpus
# BUILD_DIR/corpus/NAME (BUILD_DIR/$ZOO_FUZZ_CORPUS/NAME when that is set: ctest keeps its own,
# small, so that a test's time does not grow with the campaigns' corpus), writes crash/leak/timeout/oom inputs to BUILD_DIR/artifacts/NAME/ and
# the whole libFuzzer log to BUILD_DIR/logs/NAME.log. The per-harness limits are in the table
# below: every run has a 10 s timeout per input and a 4 GiB RSS limit, and any single
# allocation above the harness's malloc limit is a finding (a header's size claim that the
# reader did not check against the file). Prints
#   NAME  execs N  exec/s N  ft N  corpus N  crashes N  [OK|FOUND: artifact...]
# and exits non-zero when libFuzzer reported anything.
set -uo pipefail

if [[ $# -lt 4 ]]; then
  echo "usage: $0 NAME BINARY SECONDS BUILD_DIR [LIBFUZZER_FLAG...]" >&2
  exit 2
fi
name=$1 binary=$2 seconds=$3 build=$4
shift 4

# name -> maximum input length and malloc limit (MB). Readers that should never need much get
# 512; LibTorch's archive reader (checkpoints) and OpenCV's decoders (images) get 2048.
case $name in
  cifar) max_len=16384 malloc_mb=512 ;;
  checkpoint) max_len=32768 malloc_mb=2048 ;;
  image) max_len=8192 malloc_mb=2048 ;;
  pth|archive|matfile|pickle) max_len=16384 malloc_mb=512 ;;
  *) max_len=8192 malloc_mb=512 ;;
esac

seeds=$build/seeds/$name
corpus=$build/${ZOO_FUZZ_CORPUS:-corpus}/$name
artifacts=$build/artifacts/$name
log=$build/logs/$name.log
mkdir -p "$corpus" "$artifacts" "$build/logs"
if [[ ! -d $seeds ]]; then
  echo "$name: no seeds in $seeds; run scripts/fuzz_seeds.py first" >&2
  mkdir -p "$seeds"
fi

# One thread per harness: LibTorch and OpenCV would otherwise start a pool per core.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENCV_FOR_THREADS_NUM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
case $name in
  pth|checkpoint) export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$(dirname "$0")/lsan_libtorch.supp} ;;
esac
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Findings only: libFuzzer also writes slow-unit-* files (inputs slower than 10 s, here usually a
# loaded machine), which are not failures.
findings() { find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l; }
before=$(findings)
"$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -malloc_limit_mb="$malloc_mb" \
  -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" \
  "$corpus" "$seeds" >"$log" 2>&1
rc=$?
after=$(findings)
# A crashed harness leaves its scratch folder (fuzz/fuzz_util.h); remove those of dead processes.
for d in /dev/shm/zoo-fuzz-*-[0-9]* "${TMPDIR:-/tmp}"/zoo-fuzz-*-[0-9]*; do
  [[ -d $d ]] && ! kill -0 "${d##*-}" 2>/dev/null && rm -rf "$d"
done

# The last status line ("#N DONE cov: C ft: F corp: K/SIZE ...") and the final stats.
status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$status")
corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$status")
crashes=$((after - before))
if [[ $rc -ne 0 && $crashes -eq 0 ]]; then crashes=1; fi  # e.g. a leak found at exit

verdict=OK
if [[ $rc -ne 0 ]]; then
  found=$(grep -oE "(Test unit written to|artifact_prefix.*Test unit written to) [^ ]+" "$log" | awk '{print $NF}' | tr '\n' ' ')
  reason=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|fuzz property failed|.*runtime error:)' "$log" | cut -c1-160)
  verdict="FOUND (exit $rc): ${reason:-see $log} ${found}"
fi
printf '%-13s execs %-9s exec/s %-6s ft %-6s corpus %-5s crashes %-2s %s\n' \
  "$name" "${execs:-?}" "${rate:-?}" "${ft:-?}" "${corp:-?}" "$crashes" "$verdict"
exit $((rc != 0))
