// Initializers: PyTorch's fans and gains, sample statistics on big tensors against the
// distributions' closed forms, determinism per (seed, stream), and in-place fills of views.
#include <catch2/catch.hpp>
#include <cmath>
#include <vector>
#include "engine/init.h"
#include "gradcheck.h"

using namespace slimssl;

namespace {

struct Stats {
  double mean = 0, std = 0, min = INFINITY, max = -INFINITY;
};

Stats stats_of(const Tensor& t) {
  auto v = t.to_vector<double>();
  Stats s;
  for (double x : v) s.mean += x, s.min = std::min(s.min, x), s.max = std::max(s.max, x);
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.std += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(s.std / static_cast<double>(v.size() - 1));
  return s;
}

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }
double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

// Mean and std of N(mu, sigma) truncated to [a, b], from the textbook formulas.
void truncated_moments(double mu, double sigma, double a, double b, double& mean, double& std) {
  double al = (a - mu) / sigma, be = (b - mu) / sigma, z = Phi(be) - Phi(al);
  mean = mu + sigma * (phi(al) - phi(be)) / z;
  double var = 1 + (al * phi(al) - be * phi(be)) / z - std::pow((phi(al) - phi(be)) / z, 2);
  std = sigma * std::sqrt(var);
}

}  // namespace

TEST_CASE("fans and gains follow PyTorch", "[init]") {
  auto f = init::fans({64, 3, 3, 3});  // conv weight [O, I, kh, kw]
  CHECK(f.in == 27);
  CHECK(f.out == 576);
  f = init::fans({10, 20});  // linear weight [out, in]
  CHECK(f.in == 20);
  CHECK(f.out == 10);
  CHECK_THROWS_WITH(init::fans({5}), Catch::Contains("rank >= 2"));
  CHECK(init::gain(init::Nonlinearity::ReLU) == Approx(std::sqrt(2.0)));
  CHECK(init::gain(init::Nonlinearity::Tanh) == Approx(5.0 / 3.0));
  CHECK(init::gain(init::Nonlinearity::LeakyReLU, 0.2) == Approx(std::sqrt(2.0 / 1.04)));
  CHECK(init::gain(init::Nonlinearity::Linear) == 1.0);
}

TEST_CASE("random initializers have the right statistics", "[init]") {
  // 294,912 samples: the standard error of the mean is std / 543, of the std about std / 768.
  Tensor w = Tensor::empty({256, 128, 3, 3});
  const double n_sqrt = std::sqrt(static_cast<double>(w.numel()));

  SECTION("kaiming_normal, fan_in and fan_out") {
    init::kaiming_normal(w, init::FanMode::FanIn, init::Nonlinearity::ReLU, 1, 0);
    double want = std::sqrt(2.0 / (128 * 9));
    Stats s = stats_of(w);
    CHECK(std::abs(s.mean) < 5 * want / n_sqrt);
    CHECK(s.std == Approx(want).epsilon(0.01));
    init::kaiming_normal(w, init::FanMode::FanOut, init::Nonlinearity::ReLU, 1, 0);
    want = std::sqrt(2.0 / (256 * 9));
    s = stats_of(w);
    CHECK(s.std == Approx(want).epsilon(0.01));
  }
  SECTION("kaiming_uniform") {
    init::kaiming_uniform(w, init::FanMode::FanIn, init::Nonlinearity::ReLU, 2, 0);
    double bound = std::sqrt(2.0) * std::sqrt(3.0 / (128 * 9));
    Stats s = stats_of(w);
    CHECK(s.min >= -bound);
    CHECK(s.max <= bound);
    CHECK(s.min < -0.999 * bound);  // the whole interval is covered
    CHECK(s.max > 0.999 * bound);
    CHECK(s.std == Approx(bound / std::sqrt(3.0)).epsilon(0.01));
  }
  SECTION("uniform(lo, hi)") {
    init::uniform(w, -0.5, 1.5, 3, 0);
    Stats s = stats_of(w);
    CHECK(s.min >= -0.5);
    CHECK(s.max < 1.5);
    CHECK(std::abs(s.mean - 0.5) < 5 * (2 / std::sqrt(12.0)) / n_sqrt);
    CHECK(s.std == Approx(2 / std::sqrt(12.0)).epsilon(0.01));
  }
  SECTION("normal(mean, std) in float64") {
    Tensor d = Tensor::empty({300000}, DType::F64);
    init::normal(d, 3.0, 0.25, 4, 0);
    Stats s = stats_of(d);
    CHECK(std::abs(s.mean - 3.0) < 5 * 0.25 / std::sqrt(300000.0));
    CHECK(s.std == Approx(0.25).epsilon(0.01));
  }
  SECTION("trunc_normal: symmetric (ViT's 0.02 in +-0.04) and one-sided bounds") {
    init::trunc_normal(w, 0.0, 0.02, -0.04, 0.04, 5, 0);
    double mean, std;
    truncated_moments(0.0, 0.02, -0.04, 0.04, mean, std);
    Stats s = stats_of(w);
    CHECK(s.min >= -0.04);
    CHECK(s.max <= 0.04);
    CHECK(std::abs(s.mean - mean) < 5 * std / n_sqrt);
    CHECK(s.std == Approx(std).epsilon(0.01));
    // Deep in the right tail, where rejection sampling would take ~1/0.0013 tries per value.
    init::trunc_normal(w, 1.0, 2.0, 7.0, 9.0, 6, 0);
    truncated_moments(1.0, 2.0, 7.0, 9.0, mean, std);
    s = stats_of(w);
    CHECK(s.min >= 7.0);
    CHECK(s.max <= 9.0);
    CHECK(s.mean == Approx(mean).epsilon(0.002));
    CHECK(s.std == Approx(std).epsilon(0.02));
  }
}

TEST_CASE("constant initializers", "[init]") {
  Tensor t = Tensor::empty({3, 4}, DType::F64);
  init::zeros(t);
  CHECK(stats_of(t).max == 0.0);
  init::ones(t);
  CHECK(stats_of(t).min == 1.0);
  init::constant(t, -2.5);
  CHECK(stats_of(t).mean == -2.5);
}

TEST_CASE("initializers are deterministic per (seed, stream)", "[init]") {
  auto draw = [](uint64_t seed, uint64_t stream) {
    Tensor t = Tensor::empty({64, 32});
    init::normal(t, 0.0, 1.0, seed, stream);
    return t.to_vector<float>();
  };
  CHECK(draw(7, 3) == draw(7, 3));
  CHECK(draw(7, 3) != draw(7, 4));
  CHECK(draw(7, 3) != draw(8, 3));
  CHECK(draw(7, uint64_t(1) << 32) != draw(7, 0));  // the stream's high word counts too
  // Values depend on the logical index only: a bigger tensor starts with the same numbers.
  Tensor big = Tensor::empty({4096});
  init::normal(big, 0.0, 1.0, 7, 3);
  auto small = draw(7, 3);
  auto bv = big.to_vector<float>();
  CHECK(std::vector<float>(bv.begin(), bv.begin() + 2048) == small);
}

TEST_CASE("initializers fill only the view they are given", "[init][views]") {
  Tensor base = Tensor::full({6, 10}, 7.0);
  Tensor view = base.narrow(0, 1, 4).narrow(1, 2, 5).t();  // [5, 4], strides (1, 10)
  REQUIRE(!view.is_contiguous());
  init::uniform(view, -1.0, 1.0, 11, 2);
  // The view holds the same values a contiguous tensor of its shape would get.
  Tensor ref = Tensor::empty({5, 4});
  init::uniform(ref, -1.0, 1.0, 11, 2);
  CHECK(view.contiguous().to_vector<float>() == ref.to_vector<float>());
  // Everything outside the view is untouched.
  auto all = base.to_vector<float>();
  int64_t outside_changed = 0;
  for (int64_t r = 0; r < 6; ++r)
    for (int64_t c = 0; c < 10; ++c) {
      bool inside = r >= 1 && r < 5 && c >= 2 && c < 7;
      if (!inside && all[r * 10 + c] != 7.0f) ++outside_changed;
      if (inside) CHECK(all[r * 10 + c] != 7.0f);
    }
  CHECK(outside_changed == 0);
  // A parameter that requires grad is filled without recording anything.
  Tensor p = Tensor::empty({8, 3, 3, 3}).set_requires_grad();
  init::kaiming_normal(p.narrow(0, 0, 4), init::FanMode::FanOut, init::Nonlinearity::ReLU, 1, 9);
  init::zeros(p.narrow(0, 4, 4));
  CHECK(p.is_leaf());
  CHECK(stats_of(p.narrow(0, 4, 4)).max == 0.0);
  CHECK(stats_of(p.narrow(0, 0, 4)).std > 0.0);
}

TEST_CASE("initializers refuse integer tensors and bad arguments", "[init]") {
  CHECK_THROWS_WITH(init::normal(Tensor::zeros({3}, DType::I64), 0, 1, 1, 1), Catch::Contains("floating"));
  CHECK_THROWS_WITH(init::trunc_normal(Tensor::zeros({3}), 0, 1, 1, -1, 1, 1), Catch::Contains("empty interval"));
  CHECK_THROWS_WITH(init::normal(Tensor::zeros({3}), 0, -1, 1, 1), Catch::Contains("std"));
}
