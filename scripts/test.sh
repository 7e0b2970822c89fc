#!/usr/bin/env bash
# Builds zoo and its tests if needed (installing dependencies on a fresh machine) and runs the
# whole ctest suite. Exits non-zero on any failure.
#   scripts/test.sh [CTEST ARGS...]              build/ (Release), e.g. `scripts/test.sh -L unit`
#   scripts/test.sh --sanitize [CTEST ARGS...]   the same suite built with AddressSanitizer and
#                                                UndefinedBehaviorSanitizer in build-sanitize/
# Either way the libFuzzer harnesses (fuzz/, clang) then get their short pass, the ctest label
# `fuzz` in build-fuzz/, unless ctest arguments select part of the suite.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
fi
scripts/setup.sh --all

build=build
if ((sanitize)); then
  build=build-sanitize
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZOO_SANITIZE=ON >&2
  fi
  cmake --build "$build" -j "$(nproc)" >&2
  # Leaks are reported at exit; LibTorch's and OpenMP's own allocations that live until then
  # are not ours (tests/sanitizer/lsan.supp). Any report fails the test that made it.
  export ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
fi

status=0
(cd "$build" && ctest --output-on-failure --timeout 900 -j 2 "$@") || status=$?
if [ "$#" -eq 0 ]; then
  scripts/fuzz.sh --ctest || status=$?
fi
exit "$status"
