// The op-level profiler (engine/profile.h): off by default and then out of the way; when on, an
// account of exactly the primitives a known computation calls, whose times add up.
#include <catch2/catch.hpp>
#include <map>
#include "engine/backend.h"
#include "engine/profile.h"
#include "gpu_gate.h"
#include "gradcheck.h"

using namespace slimssl;
using slimssl::testing::randu;

namespace {
std::map<std::string, int64_t> calls_of(const profile::Report& r) {
  std::map<std::string, int64_t> m;
  for (auto& e : r.entries) m[e.name] = e.calls;
  return m;
}
}  // namespace

TEST_CASE("profile: off by default, and nothing is recorded or decorated while off", "[profile]") {
  REQUIRE_FALSE(profile::enabled());
  Backend* plain = &backend_for(Device::cpu());
  profile::start();
  CHECK(profile::enabled());
  CHECK(&backend_for(Device::cpu()) != plain);  // the timing decorator
  CHECK(std::string(backend_for(Device::cpu()).name()) == plain->name());
  profile::stop();
  CHECK_FALSE(profile::enabled());
  CHECK(&backend_for(Device::cpu()) == plain);
  // Work done while off leaves no trace in the next session.
  Tensor a = randu({8, 8}, 1).set_requires_grad();
  sum(relu(matmul(a, a))).backward();
  profile::start();
  auto r = profile::stop();
  CHECK(r.entries.empty());
  CHECK(r.allocations == 0);
  CHECK(r.backward_passes == 0);
}

TEST_CASE("profile: a known computation's primitives, by name and count", "[profile]") {
  Tensor a = randu({4, 3}, 1).set_requires_grad(), b = randu({3, 5}, 2).set_requires_grad();
  SECTION("forward only") {
    NoGradGuard ng;
    profile::start();
    Tensor y = relu(matmul(a, b));
    auto r = profile::stop();
    CHECK(calls_of(r) == std::map<std::string, int64_t>{{"gemm", 1}, {"unary:relu", 1}});
    CHECK(r.allocations == 2);                 // the product and the activation
    CHECK(r.allocated_bytes == 2 * 4 * 5 * 8);  // two float64 [4, 5] (randu makes float64)
    CHECK(r.backward_passes == 0);
  }
  SECTION("forward and backward") {
    profile::start();
    sum(relu(matmul(a, b))).backward();
    auto r = profile::stop();
    auto calls = calls_of(r);
    CHECK(calls["gemm"] == 3);  // a @ b, then da = g @ b^T and db = a^T @ g
    CHECK(calls["unary:relu"] == 1);
    CHECK(calls["binary:relu_backward"] == 1);
    CHECK(calls["reduce_rows:sum"] == 1);
    CHECK(r.backward_passes == 1);
    CHECK(r.allocations > 0);
    // The times add up: entries are self times summing to the primitives' total, which with
    // autograd's own time fits in the wall time.
    double total = 0;
    for (auto& e : r.entries) {
      CHECK(e.seconds >= 0);
      total += e.seconds;
    }
    CHECK(total == Approx(r.primitive_seconds).epsilon(1e-9).margin(1e-12));
    CHECK(r.backward_primitive_seconds <= r.primitive_seconds);
    CHECK(r.backward_seconds >= r.backward_primitive_seconds);
    CHECK(r.primitive_seconds + r.autograd_seconds() <= r.wall_seconds);
    CHECK(r.entries.front().seconds >= r.entries.back().seconds);  // largest first
    std::string text = profile::format(r, 3);
    CHECK(text.find("gemm") != std::string::npos);
    CHECK(text.find("more)") != std::string::npos);  // only 3 of the entries are listed
  }
  CHECK_FALSE(profile::enabled());
}

TEST_CASE("profile: a primitive nested in another is charged once", "[profile]") {
  // A bfloat16 convolution on the CPU widens its operands through the copy primitive inside
  // conv2d: both entries appear, and the self times still sum to the outermost total.
  Tensor x = randu({2, 3, 6, 6}, 3).to(DType::BF16), w = randu({4, 3, 3, 3}, 4).to(DType::BF16);
  NoGradGuard ng;
  profile::start();
  conv2d(x, w, Tensor(), Conv2dParams{1, 1, 1, 1});
  auto r = profile::stop();
  auto calls = calls_of(r);
  CHECK(calls["conv2d"] == 1);
  CHECK(calls["copy"] >= 1);
  double total = 0;
  for (auto& e : r.entries) total += e.seconds;
  CHECK(total == Approx(r.primitive_seconds).epsilon(1e-9).margin(1e-12));
}

TEST_CASE("profile: CUDA primitives are timed between device synchronizations", "[profile][cuda]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  Tensor a = randu({64, 32}, 5).to(Device::cuda()), b = randu({32, 16}, 6).to(Device::cuda());
  NoGradGuard ng;
  profile::start();
  Tensor y = relu(matmul(a, b));
  backend_for(Device::cuda()).synchronize();
  auto r = profile::stop();
  auto calls = calls_of(r);
  CHECK(calls["gemm"] == 1);
  CHECK(calls["unary:relu"] == 1);
  CHECK(calls["synchronize"] == 1);
  CHECK(r.allocations == 2);
}
