#!/usr/bin/env bash
# Installs every Debian package zoo's build, tests and default data need (apt-get; sudo when
# not root), then configures and builds zoo in build/ (Release). Idempotent: with everything
# installed and built it only checks and returns in seconds.
#   scripts/setup.sh            install + build the zoo binary
#   scripts/setup.sh --all      install + build zoo and the test executables
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake ninja-build g++ pkg-config
  libtorch-dev libcli11-dev libspdlog-dev nlohmann-json3-dev libopencv-dev libgloo-dev
  zlib1g-dev libgtest-dev libopenblas0-openmp
  libcurl4-openssl-dev libssl-dev     # downloads (libcurl) and their SHA-256/MD5 (OpenSSL)
  libarchive-dev                      # dataset archives: ImageNet's tars, CIFAR's tar.gz
  libxxhash-dev                       # checksums in checkpoints and safetensors files
  python3-torch python3-torchvision   # parity fixtures and the Python peer benchmarks
  python3-nltk                        # BLEU parity test (NLTK corpus_bleu)
  python3-scipy                       # ImageNet devkit parity test (torchvision reads meta.mat with scipy)
  dataset-fashion-mnist               # the default data of `zoo train lenet5`
  clang libclang-rt-14-dev            # the libFuzzer harnesses (fuzz/, scripts/fuzz.sh)
  python3-pil                         # their image seeds (scripts/fuzz_seeds.py)
)

sudo_cmd=""
if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# OpenBLAS's OpenMP build: the pthread build oversubscribes the cores next to LibTorch's OpenMP.
if command -v update-alternatives >/dev/null; then
  for alt in libopenblas.so.0-x86_64-linux-gnu libblas.so.3-x86_64-linux-gnu liblapack.so.3-x86_64-linux-gnu; do
    alt_target=$(update-alternatives --list "$alt" 2>/dev/null | grep openblas-openmp | head -n1 || true)
    if [ -n "$alt_target" ] && [ "$(readlink -f "/etc/alternatives/$alt")" != "$(readlink -f "$alt_target")" ]; then
      $sudo_cmd update-alternatives --set "$alt" "$alt_target" >/dev/null 2>&1 || true
    fi
  done
fi

target=zoo
if [ "${1:-}" = "--all" ]; then target=all; fi
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build build --target "$target" -j "$(nproc)" >&2
