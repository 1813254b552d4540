// float32 softmax rows on the CPU (their exp is a vectorized polynomial, not libm) against the
// same rows in float64, on the InfoNCE loss's shape: [4, 4097] logits over a wide range, rows
// with -inf (masked) entries and a row with a NaN.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

TEST_CASE("float32 softmax and log_softmax rows agree with float64 to a few ulps", "[ops][softmax]") {
  for (double range : {1.0, 40.0, 100.0}) {
    INFO("logits in [-" << range << ", " << range << "]");
    Tensor x64 = randu({4, 4097}, 90, -range, range);
    Tensor x32 = x64.to(DType::F32);
    // float64 of the float32 inputs, so only the computation differs.
    Tensor ref_in = x32.to(DType::F64);
    const auto p = softmax(x32, 1).to_vector<float>(), l = log_softmax(x32, 1).to_vector<float>();
    const auto p_ref = softmax(ref_in, 1).to_vector<double>(), l_ref = log_softmax(ref_in, 1).to_vector<double>();
    double worst_p = 0, worst_l = 0;
    for (size_t i = 0; i < p.size(); ++i) {
      worst_p = std::max(worst_p, std::abs(p[i] - p_ref[i]) / std::max(p_ref[i], 1e-30));
      worst_l = std::max(worst_l, std::abs(l[i] - l_ref[i]) / std::max(1.0, std::abs(l_ref[i])));
    }
    // e^x below 1e-38 is flushed to about that (p_ref < 1e-30 is then compared absolutely). The
    // float32 difference x - max (up to 2 * range) rounds by half an ulp of its size, which moves
    // e^(x - max) by that much relatively: the tolerance is a few float ulps on top of it.
    const double eps = std::numeric_limits<float>::epsilon();
    CHECK(worst_p < eps * (8 + 2 * range));
    CHECK(worst_l < eps * 8);
  }
}

TEST_CASE("float32 softmax rows keep -inf entries at zero weight and NaN rows NaN", "[ops][softmax]") {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector(std::vector<float>{0.f, -inf, 1.f, -inf, 2.f, nan, 0.f, 1.f}, {2, 4});
  auto p = softmax(x, 1).to_vector<float>();
  const double z = 1 + std::exp(1.0);
  CHECK(p[0] == Approx(1 / z).epsilon(1e-6));
  CHECK(p[1] < 1e-37f);
  CHECK(p[2] == Approx(std::exp(1.0) / z).epsilon(1e-6));
  CHECK(p[3] < 1e-37f);
  for (int j = 4; j < 8; ++j) CHECK(std::isnan(p[j]));
  auto l = log_softmax(x, 1).to_vector<float>();
  CHECK(std::isinf(l[1]));
  CHECK(l[1] < 0);
}
