#!/usr/bin/env bash
# The main job on a fresh machine: install the build's packages and Fashion-MNIST, build, and
# pre-train a slimmable ResNet-20 with SlimCLR (MoCo v2) at widths 1.0/0.5/0.25, ending with the
# per-width kNN table. Extra arguments are passed to `slimssl train` (e.g. epochs=1).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$(nproc)" --target slimssl
exec build/bin/slimssl train --config configs/fmnist_demo.json --out runs/fmnist_demo "$@"
