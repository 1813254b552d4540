#!/usr/bin/env bash
# CI: the GPU check's dry run (docs/gpu.md), so a broken check script, a file missing from the
# bundle or a bundle over its size limit shows up here rather than in a scarce GPU window.
# Packs the bundle from the CUDA build scripts/test.sh made (BUILD, default build), runs
# gpu_check.sh --dry-run on it, then proves the dry run fails on a broken bundle: a copy with one
# file deleted, and the bundle against a size limit it is over.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
B=$BUILD/gpu_bundle
T=$BUILD/gpu_dry_run
t0=$SECONDS

if ! grep -qs '^CUDNN_LIBRARY:.*=/' "$BUILD/CMakeCache.txt"; then
  echo "ci_gpu_dry_run: skipped: $BUILD has no CUDA build (nvcc not installed), so there is no bundle to check"
  exit 0
fi
rm -rf "$T" && mkdir -p "$T"

BUILD=$BUILD BUNDLE=$B scripts/gpu_bundle.sh
bash "$B/scripts/gpu_check.sh" --dry-run "$T/ok"

# expect_failure NAME MESSAGE CMD...: CMD must fail, and its probe log must say MESSAGE.
expect_failure() {
  local name=$1 message=$2
  shift 2
  if "$@" >"$T/$name.out" 2>&1; then
    cat "$T/$name.out"
    echo "ci_gpu_dry_run: the dry run passed on a broken bundle ($name)" >&2
    exit 1
  fi
  grep -q "$message" "$T/$name/probe.log" || {
    cat "$T/$name.out" "$T/$name/probe.log"
    echo "ci_gpu_dry_run: the dry run failed on $name, but its probe did not say '$message'" >&2
    exit 1
  }
  echo "ci_gpu_dry_run: $name: failed as it must ($message)"
}

cp -r "$B" "$T/bundle_missing_file"
rm "$T/bundle_missing_file/lib/libgomp.so.1"
expect_failure missing_file "lib/libgomp.so.1 is missing" \
  bash "$T/bundle_missing_file/scripts/gpu_check.sh" --dry-run --only probe "$T/missing_file"
expect_failure over_limit "over its size limit" \
  env LIMIT_MIB=1 bash "$B/scripts/gpu_check.sh" --dry-run --only probe "$T/over_limit"
rm -rf "$T/bundle_missing_file"
echo "ci_gpu_dry_run: passed in $((SECONDS - t0)) s"
