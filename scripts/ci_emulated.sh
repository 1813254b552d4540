#!/usr/bin/env bash
# CI without a GPU: the CUDA backend and every [cuda] test (the op table on CUDA against the CPU,
# the backend primitives, the kernels, the device augmentation, the training step on CUDA against
# the CPU) on the emulated device: the CUDA sources compiled as C++ for kernels/dev/emu. What this
# proves and what only a GPU proves: docs/kernels.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${EMU_BUILD:-build-emu}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMSSL_CUDA=EMULATE >/dev/null
cmake --build "$BUILD" -j "$(nproc)" --target slimssl_tests
# Every [cuda] case must run (a skip would prove nothing): the gate fails instead of skipping.
SLIMSSL_REQUIRE_GPU=1 OMP_WAIT_POLICY=PASSIVE "$BUILD/bin/slimssl_tests" "[cuda]"
