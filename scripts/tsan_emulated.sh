#!/usr/bin/env bash
# Race check of our CUDA kernels without a GPU: the EMULATE build (kernels/dev/emu: every CUDA
# thread an OS thread, __syncthreads a barrier, lane-exact wmma stores) compiled with clang under
# ThreadSanitizer, in its own build directory (default build-tsan/). A report is two threads of
# one block touching the same address, one of them writing, with no barrier between: a missing
# __syncthreads, or two threads storing the same element. The first report fails the run.
#
#   scripts/tsan_emulated.sh [catch2 filter]
#
# It runs slimssl_kernel_tests (tests/CMakeLists.txt): the [cuda] cases of the kernel, backend-
# primitive, optimizer, augmentation and emulated-wmma tests, which launch every kernel we wrote at
# small sizes. The op table and the training step (in slimssl_tests only) launch the same kernels
# again through the engine, at sizes that cost many times more under the sanitizer, and building
# the whole suite would add the CLI and some 50 test files to the sanitized build.
#
# OpenMP (the CPU reference the tests compare against) runs on one thread: libgomp and libomp
# synchronize their teams in ways ThreadSanitizer does not see, so a team would be reported; with
# one thread no team is started and no suppression is needed. Limits of the check: docs/checking.md.
# Needs clang (scripts/install-sanitizer-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-tsan}
# -O1, not Release's -O3: the instrumented -O3 build of the templated kernels takes several times
# longer to compile, and the checked tests are small.
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g -DNDEBUG -DSLIMSSL_EMU_OS_THREADS" -DSLIMSSL_CUDA=EMULATE -DSLIMSSL_SANITIZE=thread >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target slimssl_kernel_tests
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
# Every selected case must run (a skip would check nothing): the gate fails instead of skipping.
OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1 SLIMSSL_REQUIRE_GPU=1 \
  "$BUILD/bin/slimssl_kernel_tests" "${1:-[cuda]}"
