#!/usr/bin/env bash
# CI's second test run: the test suite built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (every UBSan report fatal, leaks too), CPU only. The build directory
# (default build-san/) also holds the fuzz targets of scripts/fuzz.sh, built from the same objects.
# Needs clang (scripts/install-sanitizer-deps.sh).
#
# Under the sanitizers the suite takes 24 minutes of test time on 2 cores (all of it passed, last
# measured on 2026-12-01); CI runs the subset without the five compute-heavy model and learning
# tests below (13 minutes of that time then; 8 minutes with the Winograd convolutions, incremental
# build included, on 2026-12-01), which exercise no loader, file format or checkpoint path.
# Every loader, safetensors, the checkpoint and resume path, the run directory and the crash test
# stay in. `scripts/sanitize.sh --all` runs everything.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-san}
scripts/configure-sanitized.sh "$BUILD"
cmake --build "$BUILD" -j "$(nproc)" --target slimssl slimssl_tests
# detect_leaks: the suite must not leak either; UBSan stops at its first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
HEAVY="^train: each framework lowers its loss|^every zoo model trains at every width|^export: every zoo model at every width"
HEAVY+="|^parameter and MAC counts match|^weight sharing: W"
exclude=(-E "$HEAVY")
[ "${1:-}" = "--all" ] && exclude=()
OMP_WAIT_POLICY=PASSIVE ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)" --timeout 1500 "${exclude[@]}"
