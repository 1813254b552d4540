#!/usr/bin/env bash
# Configure, build and run every test (CUDA tests skip with a message where no GPU is present).
# Tests run in parallel, so OpenMP threads wait passively instead of spinning on the shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$BUILD" -j "$(nproc)"
# Every Catch2 test case must be its own ctest entry: a name with ';', '[' or ']' breaks CMake's
# list handling and would silently merge tests into one that runs none of them.
# (Catch2 v2 exits with the number of tests it listed, hence the `|| true`.)
n_catch=$( ("$BUILD/bin/slimssl_tests" --list-test-names-only || true) | grep -c .)
n_ctest=$(ctest --test-dir "$BUILD" -N | grep -c "Test *#")
if [ "$n_catch" != "$n_ctest" ]; then
  echo "error: ctest registered $n_ctest tests but slimssl_tests has $n_catch (avoid ';' '[' ']' in test names)" >&2
  exit 1
fi
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
