#!/usr/bin/env bash
# Installs what vdb needs to build and test on Debian 12 (run as root or with sudo).
# Safe to run again: it installs only what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git xxd
  clang libclang-rt-14-dev             # fuzzers and sanitizer builds
  liburing-dev libxxhash-dev libzstd-dev libfmt-dev
  nlohmann-json3-dev libcli11-dev
  libopenblas-dev                      # cblas_sgemm for BERT and batched exact search
  libgtest-dev libgmock-dev libbenchmark-dev
  liblmdb-dev libhnswlib-dev libfaiss-dev libomp-dev   # benchmark peers
  gnuplot-nox                          # recall/QPS plots
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
