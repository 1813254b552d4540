#!/usr/bin/env bash
# CI's second test run: the whole test suite built with clang under AddressSanitizer and
# UndefinedBehaviorSanitizer (every UBSan report fatal), CPU only. The build directory (default
# build-san/) also holds the fuzz targets of scripts/fuzz.sh, compiled from the same objects.
# Needs clang (scripts/install-sanitizer-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-san}
scripts/configure-sanitized.sh "$BUILD"
cmake --build "$BUILD" -j "$(nproc)" --target slimssl slimssl_tests
# detect_leaks: the suite must not leak either; UBSan stops at its first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
OMP_WAIT_POLICY=PASSIVE ctest --test-dir "$BUILD" --output-on-failure -j "$(nproc)"
