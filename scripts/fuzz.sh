#!/usr/bin/env bash
# Fuzzing campaign over zoo's readers of outside bytes (fuzz/: libFuzzer + ASan + UBSan, clang).
#
#   scripts/fuzz.sh [--jobs N] [SECONDS [NAME...]]
#   scripts/fuzz.sh --ctest        build, then the short pass: ctest -L fuzz in build-fuzz/
#                                  (what scripts/test.sh runs after the suite)
#
# Configures and builds build-fuzz/ when needed (installing clang and libclang-rt-14-dev with
# apt-get only when they are missing), writes the seeds into build-fuzz/seeds/<name>/
# (scripts/fuzz_seeds.py; kept once written), then runs each harness for SECONDS (default 600)
# on its working corpus build-fuzz/corpus/<name>/ (which grows from run to run), one after the
# other or N at a time with --jobs N. Crash inputs go to build-fuzz/artifacts/<name>/, logs to
# build-fuzz/logs/<name>.log. Prints one summary line per harness (executions, exec/s, coverage
# features, corpus size, crashes) and exits non-zero when any harness found something.
# Harnesses: idx cifar safetensors pth pickle checkpoint captions text archive image
# train_config matfile catalog meta. Reproduce a finding with
# build-fuzz/fuzz/fuzz_<name> ARTIFACT.
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=1
ctest_pass=0
if [[ ${1:-} == --ctest ]]; then
  ctest_pass=1
  shift
fi
if [[ ${1:-} == --jobs ]]; then
  jobs=${2:?--jobs needs a number}
  shift 2
fi
seconds=${1:-600}
shift || true
all=(idx cifar safetensors pth pickle checkpoint captions text archive image train_config matfile
     catalog meta)
names=("$@")
[[ ${#names[@]} -eq 0 ]] && names=("${all[@]}")
for n in "${names[@]}"; do
  [[ " ${all[*]} " == *" $n "* ]] || { echo "fuzz.sh: unknown harness '$n'; known: ${all[*]}" >&2; exit 2; }
done

build=build-fuzz
if ! command -v clang++ >/dev/null || ! ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
  echo "fuzz.sh: installing clang and libclang-rt-14-dev" >&2
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update
  $sudo apt-get install -y clang libclang-rt-14-dev
fi
if [[ ! -f $build/build.ninja ]]; then
  CC=clang CXX=clang++ nice -n 10 cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DZOO_FUZZ=ON -DZOO_BUILD_TESTS=OFF
fi
targets=(fuzz_seeds)
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
nice -n 10 ninja -C "$build" -j2 "${targets[@]}"
if ((ctest_pass)); then
  cd "$build"
  exec ctest --output-on-failure -L fuzz -j 2
fi

python=/usr/bin/python3
[[ -x $python ]] || python=python3
"$python" scripts/fuzz_seeds.py --generator "$build/fuzz/fuzz_seeds" "$build/seeds" "${names[@]}"

summary=$build/logs/summary.txt
mkdir -p "$build/logs"
: >"$summary"
status=0
run_one() {
  nice -n 10 fuzz/run_fuzzer.sh "$1" "$build/fuzz/fuzz_$1" "$seconds" "$build" >>"$summary"
}
running=0
for n in "${names[@]}"; do
  if [[ $jobs -le 1 ]]; then
    run_one "$n" || status=1
    tail -n 1 "$summary"
  else
    run_one "$n" &
    running=$((running + 1))
    if [[ $running -ge $jobs ]]; then
      wait -n || status=1
      running=$((running - 1))
    fi
  fi
done
while [[ $running -gt 0 ]]; do
  wait -n || status=1
  running=$((running - 1))
done
if [[ $jobs -gt 1 ]]; then cat "$summary"; fi
if [[ $status -ne 0 ]]; then
  echo "fuzz.sh: findings above; inputs in $build/artifacts/<name>/, logs in $build/logs/" >&2
fi
exit $status
