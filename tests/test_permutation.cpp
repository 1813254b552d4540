// Key-BN shuffle permutations drawn where the step counter lives (engine/ops.h
// random_permutation): the CPU backend and the device kernel against base/rng.h's host shuffle,
// which is the reference (Learner::key_permutation).
#include <catch2/catch.hpp>
#include <algorithm>
#include <vector>
#include "base/rng.h"
#include "engine/ops.h"
#include "gpu_gate.h"

namespace {
using namespace slimssl;

std::vector<int64_t> reference(int64_t n, uint64_t seed, uint64_t counter, uint32_t tag) {
  return random_permutation(
      n, RandomStream(seed, static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32), tag));
}

// The permutation drawn on `device` from a counter held there equals the reference, and its
// inverse inverts it, for sizes around the block width and counters above 2^32.
void check_against_reference(Device device) {
  for (int64_t n : {1, 2, 7, 64, 255, 256, 257, 513, 1000})
    for (uint64_t counter : {uint64_t{0}, uint64_t{3}, uint64_t{41}, (uint64_t{5} << 32) | 17u})
      for (uint32_t tag : {0x53480000u, 0x53480001u}) {
        const uint64_t seed = 1234 + n;
        Tensor c = Tensor::scalar(static_cast<double>(counter), DType::I64).to(device);
        Permutation p = random_permutation(n, seed, c, tag);
        const std::vector<int64_t> want = reference(n, seed, counter, tag);
        INFO("n " << n << " counter " << counter << " tag " << tag << " on " << device.str());
        REQUIRE(p.order.to_vector<int64_t>() == want);
        std::vector<int64_t> inv = p.inverse.to_vector<int64_t>(), back(n);
        for (int64_t i = 0; i < n; ++i) back[want[i]] = i;
        REQUIRE(inv == back);
      }
}
}  // namespace

TEST_CASE("random_permutation on the CPU is base/rng.h's shuffle of the counter's stream", "[rng]") {
  check_against_reference(Device::cpu());
  // The shuffle moves elements: a fixed point everywhere would mean the words are not used.
  std::vector<int64_t> p = reference(100, 7, 3, 0x53480000u), id(100);
  for (int64_t i = 0; i < 100; ++i) id[i] = i;
  REQUIRE(p != id);
  REQUIRE(std::is_permutation(p.begin(), p.end(), id.begin()));
  // Different counters and tags give different orders.
  REQUIRE(reference(100, 7, 4, 0x53480000u) != p);
  REQUIRE(reference(100, 7, 3, 0x53480001u) != p);
}

TEST_CASE("random_permutation on the device equals the CPU reference for the same key", "[cuda][rng]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  check_against_reference(Device::cuda(0));
}

TEST_CASE("permute_rows gathers rows in the given order and sends gradients back", "[rng]") {
  Tensor x = Tensor::arange(12).reshape({4, 3}).set_requires_grad(true);
  Tensor order = Tensor::from_vector(std::vector<int64_t>{2, 0, 3, 1}, {4});
  Tensor y = permute_rows(x, order);
  REQUIRE(y.to_vector<float>() == std::vector<float>{6, 7, 8, 0, 1, 2, 9, 10, 11, 3, 4, 5});
  sum(mul(y, Tensor::arange(12).reshape({4, 3}))).backward();
  // d/dx[order[i]] = weight row i.
  REQUIRE(x.grad().to_vector<float>() == std::vector<float>{3, 4, 5, 9, 10, 11, 0, 1, 2, 6, 7, 8});
}
