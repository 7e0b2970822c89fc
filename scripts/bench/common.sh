# shellcheck shell=bash disable=SC2034  # (the variables set here are for the scripts that source it)
# Helpers shared by the scripts in scripts/bench/, sourced after they cd to the repository root:
#   . scripts/bench/common.sh
# Sourcing records the start (UTC time, 1-minute load average) for the "Measured" line and sets
#   zoo          the binary under test: $ZOO, else build/zoo (built by scripts/setup.sh if missing,
#                unless the script set bench_needs_zoo=0)
#   py           Debian's interpreter with python3-torch, the peers' Python
#   zoo_malloc   zoo's glibc malloc settings as a GLIBC_TUNABLES assignment for `env`: what
#                keep_freed_memory() (app/engine/allocator.h) sets with mallopt (M_MMAP_MAX 0,
#                M_TRIM_THRESHOLD -1). The headline runs every PyTorch peer with it, so that
#                zoo and PyTorch are compared at equal allocator settings.
#   smoke        0 unless already set; a script sets it to 1 (and shifts) when its first
#                argument is --smoke
# Output convention (scripts/bench/all.sh lifts it into docs/BENCHMARKS.md): progress goes to
# stderr or before the block; at the end each script prints, with bench_block,
#   <!-- table -->
#   Measured <UTC date/time> on <CPU>, <N> cores, load average <L> at the start; command: `...`
#   (blank line)
#   markdown tables, the headline ratio in bold (**1.23x**)
#   <!-- /table -->

py=/usr/bin/python3
zoo_malloc="GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=18446744073709551615"
zoo=${ZOO:-build/zoo}
if [ -z "${ZOO:-}" ] && [ "${bench_needs_zoo:-1}" = 1 ]; then [ -x "$zoo" ] || scripts/setup.sh >&2; fi
bench_started=$(date -u '+%Y-%m-%d %H:%M UTC')
bench_load=$(cut -d' ' -f1 /proc/loadavg)
bench_name=$(basename "$0" .sh)
bench_env=""  # settings from the environment that the command line in the block must show
smoke=${smoke:-0}

# median X...: the median of the numbers given.
median() { $py -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# bench_machine_line ARGS...: the "Measured ..." line, the command being scripts/bench/NAME.sh ARGS
# (prefixed by $bench_env, and by ZOO=... when $ZOO is another binary than build/zoo).
bench_machine_line() {
  local cpu cmd envs=$bench_env
  cpu=$(grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//')
  [ -n "$cpu" ] || cpu=$(uname -m)
  if [ -n "${ZOO:-}" ] && [ "$(readlink -f "$ZOO")" != "$(readlink -f build/zoo)" ]; then
    envs="ZOO=$ZOO${envs:+ $envs}"
  fi
  cmd="${envs:+$envs }scripts/bench/$bench_name.sh${*:+ $*}"
  echo "Measured $bench_started on $cpu, $(nproc) cores, load average $bench_load at the start; command: \`$cmd\`"
}

# bench_block ARGS... < TABLES: frames the markdown tables read from stdin (separated by blank
# lines) as the block all.sh lifts; ARGS are the script's arguments for the command line. Write
# the tables to a file first (`$py ... > "$tmp/tables"`, so that set -e stops a failed run before
# it prints a block); a table without a data row is an error.
bench_block() {
  local tables
  tables=$(cat)
  if [ "$(grep -c '^| ' <<<"$tables")" -lt 2 ]; then
    echo "$bench_name: no table rows to print" >&2
    return 1
  fi
  echo "<!-- table -->"
  bench_machine_line "$@"
  echo
  printf '%s\n' "$tables"
  echo "<!-- /table -->"
}

# bench_tiny_idx DIR [TRAIN=256] [TEST=64]: a tiny Fashion-MNIST lookalike for --smoke runs:
# gzipped idx files (train-/t10k-images-idx3-ubyte.gz, -labels-idx1-ubyte.gz) of 28x28 images,
# labels i % 10, each class a different brightness pattern plus noise (learnable, not trivially).
bench_tiny_idx() {
  $py - "$1" "${2:-256}" "${3:-64}" <<'PY'
import gzip, os, struct, sys
import numpy as np
d, sizes = sys.argv[1], {"train": int(sys.argv[2]), "t10k": int(sys.argv[3])}
os.makedirs(d, exist_ok=True)
rng = np.random.default_rng(0)
yy, xx = np.mgrid[0:28, 0:28]
for pre, n in sizes.items():
    y = (np.arange(n) % 10).astype(np.uint8)
    x = np.stack([((xx * (1 + c % 5) + yy * (1 + c // 5)) * 9) % 256 for c in y]).astype(np.float32)
    x = np.clip(x + rng.normal(0, 40, x.shape), 0, 255).astype(np.uint8)
    for name, arr, magic in ((f"{pre}-images-idx3-ubyte.gz", x, 0x803), (f"{pre}-labels-idx1-ubyte.gz", y, 0x801)):
        with gzip.open(os.path.join(d, name), "wb", compresslevel=1) as f:
            f.write(struct.pack(">I" + "I" * arr.ndim, magic, *arr.shape) + arr.tobytes())
PY
}
