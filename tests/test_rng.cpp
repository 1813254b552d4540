// Philox-4x32-10 against the Random123 known-answer vectors, and the streams built on it.
#include <catch2/catch.hpp>
#include <cmath>
#include <set>
#include "engine/rng.h"

using namespace slimssl;

namespace {
// Random123's key is two 32-bit words (k0, k1); ours is one uint64 with k0 in the low half.
uint64_t key_of(uint32_t k0, uint32_t k1) { return static_cast<uint64_t>(k1) << 32 | k0; }
}  // namespace

TEST_CASE("philox4x32-10 reproduces the Random123 known-answer vectors", "[rng]") {
  struct Kat {
    uint32_t ctr[4], key[2], out[4];
  };
  const Kat kats[] = {
      {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
      {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
       {0xffffffff, 0xffffffff},
       {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
      // pi's digits as counter and key: distinct words catch any swapped word or key half
      {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
       {0xa4093822, 0x299f31d0},
       {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
  };
  for (const auto& k : kats) {
    Philox4x32 r = philox4x32(k.ctr[0], k.ctr[1], k.ctr[2], k.ctr[3], key_of(k.key[0], k.key[1]));
    for (int i = 0; i < 4; ++i) {
      INFO("counter word 0 = " << std::hex << k.ctr[0] << ", output word " << i);
      CHECK(r.v[i] == k.out[i]);
    }
  }
}

TEST_CASE("a random stream is word i%4 of block i/4 and depends only on its key", "[rng]") {
  RandomStream rs(42, 1, 2, 3);
  for (uint32_t block = 0; block < 3; ++block) {
    Philox4x32 want = philox4x32(block, 1, 2, 3, 42);
    for (int w = 0; w < 4; ++w) CHECK(rs.next_u32() == want.v[w]);
  }
  CHECK(rs.position() == 12);
  RandomStream a(42, 1, 2, 3), b(42, 1, 2, 4), c(43, 1, 2, 3);
  uint32_t x = a.next_u32();
  CHECK(x != b.next_u32());
  CHECK(x != c.next_u32());
}

TEST_CASE("uniform draws lie in 0 <= u < 1 with the right mean and variance", "[rng]") {
  RandomStream rs(7, 0);
  const int n = 400000;
  double sum = 0, sum2 = 0, lo = 1, hi = 0;
  std::set<float> distinct;
  int outside = 0;
  for (int i = 0; i < n; ++i) {
    float u = rs.uniform();
    outside += !(u >= 0.0f && u < 1.0f);
    lo = std::min<double>(lo, u), hi = std::max<double>(hi, u);
    sum += u, sum2 += double(u) * u;
    if (i < 1000) distinct.insert(u);
  }
  CHECK(outside == 0);
  double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(std::abs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  CHECK(var == Approx(1.0 / 12).epsilon(0.01));
  CHECK(lo < 1e-4);
  CHECK(hi > 1 - 1e-4);
  CHECK(distinct.size() > 990);
  // The extremes of the 24-bit mapping.
  CHECK(static_cast<float>(0u >> 8) * (1.0f / 16777216.0f) == 0.0f);
  CHECK(static_cast<float>(0xffffffffu >> 8) * (1.0f / 16777216.0f) < 1.0f);
}

TEST_CASE("normal draws have mean 0, variance 1 and normal tails", "[rng]") {
  RandomStream rs(9, 5, 6);
  const int n = 400000;
  double sum = 0, sum2 = 0, sum4 = 0;
  int beyond2 = 0, not_finite = 0;
  for (int i = 0; i < n; ++i) {
    double z = rs.normal();
    not_finite += !std::isfinite(z);
    sum += z, sum2 += z * z, sum4 += z * z * z * z;
    beyond2 += std::abs(z) > 2;
  }
  CHECK(not_finite == 0);
  double mean = sum / n, var = sum2 / n - mean * mean;
  CHECK(std::abs(mean) < 5 / std::sqrt(double(n)));
  CHECK(var == Approx(1.0).epsilon(0.01));
  CHECK(sum4 / n == Approx(3.0).epsilon(0.03));                        // kurtosis of a normal
  CHECK(double(beyond2) / n == Approx(0.0455).epsilon(0.05));         // P(|z| > 2)
}
