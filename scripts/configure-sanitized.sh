#!/usr/bin/env bash
# Configures the checking build shared by scripts/sanitize.sh and scripts/fuzz.sh: clang, ASan +
# UBSan (fatal), the libFuzzer targets, CPU only, optimized as Release (the suite's training
# tests need the vectorized GEMM) with debug information.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-san}
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMSSL_CUDA=OFF \
  -DSLIMSSL_SANITIZE=address,undefined -DSLIMSSL_FUZZ=ON >/dev/null
