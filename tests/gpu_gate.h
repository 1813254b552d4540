// The one "run on the GPU or skip" decision for every test that needs a CUDA device. Every such
// test case (tag it [cuda]) starts with
//
//     if (!slimssl::testing::gpu_or_skip()) return;
//
// and checks nothing else about devices. Without a usable device (no GPU or driver, or a build
// without CUDA) it WARNs "skipped: ..." and returns false, so CPU machines and CI pass with a
// visible note. With SLIMSSL_REQUIRE_GPU=1 in the environment (scripts/gpu_check.sh sets it on
// the GPU machine) it FAILs the test case instead, so a GPU run can never pass by skipping.
// Host-only checks in [cuda] files (reference gradients, argument validation) need no gate.
// tests/test_gpu_gate.cpp tests both behaviours.
#pragma once
#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#ifdef SLIMSSL_WITH_CUDA
#include "kernels/memory.h"
#endif

namespace slimssl::testing {

// SLIMSSL_REQUIRE_GPU set to anything but "" or "0".
inline bool gpu_required() {
  const char* v = std::getenv("SLIMSSL_REQUIRE_GPU");
  return v && *v && std::string(v) != "0";
}

// Why no test can run on a GPU here, or "" when one can.
inline std::string gpu_missing_reason() {
#ifdef SLIMSSL_WITH_CUDA
  return kernels::device_count() > 0 ? "" : "no CUDA device found";
#else
  return "this binary was built without CUDA";
#endif
}

inline bool gpu_or_skip() {
  const std::string why = gpu_missing_reason();
  if (why.empty()) return true;
  if (gpu_required()) FAIL("SLIMSSL_REQUIRE_GPU is set, but " << why);
  WARN("skipped: " << why);
  return false;
}

}  // namespace slimssl::testing
