#!/usr/bin/env bash
# Configure, build and run every test (CUDA tests skip with a message where no GPU is present).
# Tests run in parallel, so OpenMP threads wait passively instead of spinning on the shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD" -j "$(nproc)"
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
