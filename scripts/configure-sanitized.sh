#!/usr/bin/env bash
# Configures the checking build shared by scripts/sanitize.sh and scripts/fuzz.sh: clang, ASan +
# UBSan (fatal), the libFuzzer targets, CPU only, optimized with debug information.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-san}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLIMSSL_CUDA=OFF \
  -DSLIMSSL_SANITIZE=address,undefined -DSLIMSSL_FUZZ=ON >/dev/null
