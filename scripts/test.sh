#!/usr/bin/env bash
# Builds zoo and its tests if needed (installing dependencies on a fresh machine) and runs the
# whole ctest suite. Extra arguments go to ctest, e.g. `scripts/test.sh -L unit`.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --all
cd build
exec ctest --output-on-failure --timeout 900 -j 2 "$@"
