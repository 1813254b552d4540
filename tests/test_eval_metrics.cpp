// Alignment, intra-class alignment, uniformity and retrieval accuracy against closed forms and
// naive double-precision computations.
#include <catch2/catch.hpp>
#include <cmath>
#include <numeric>
#include "engine/rng.h"
#include "engine/ops.h"
#include "ssl/eval/metrics.h"

using namespace slimssl;
using namespace slimssl::eval;

namespace {

Tensor random_features(int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> v(n * d);
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rs(seed, static_cast<uint32_t>(i));
    for (int64_t j = 0; j < d; ++j) v[i * d + j] = rs.normal();
  }
  return Tensor::from_vector<float>(v, {n, d});
}

std::vector<std::vector<double>> unit_rows_naive(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  int64_t n = t.size(0), d = t.size(1);
  std::vector<std::vector<double>> out(n, std::vector<double>(d));
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += v[i * d + j] * v[i * d + j];
    for (int64_t j = 0; j < d; ++j) out[i][j] = v[i * d + j] / std::sqrt(ss);
  }
  return out;
}

double sqdist(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t j = 0; j < a.size(); ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  return s;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

Tensor circle_points(int64_t n, int64_t dim) {
  std::vector<float> v(n * dim, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    double t = 2 * M_PI * i / n;
    v[i * dim] = static_cast<float>(std::cos(t));
    v[i * dim + 1] = static_cast<float>(std::sin(t));
  }
  return Tensor::from_vector<float>(v, {n, dim});
}

// Modified Bessel function I0 by its power series sum_k ((x/2)^k / k!)^2.
double bessel_i0(double x) {
  double term = 1, sum = 1;
  for (int k = 1; k < 60; ++k) {
    term *= (x / 2) / k;
    sum += term * term;
  }
  return sum;
}

}  // namespace

TEST_CASE("alignment: 0 for identical sets, 4 for antipodal ones, naive value otherwise", "[eval][metrics]") {
  Tensor x = random_features(50, 12, 1);
  CHECK(alignment(x, x) == Approx(0.0).margin(1e-12));
  CHECK(alignment(x, mul(x, 3.0)) == Approx(0.0).margin(1e-10));  // scale does not matter
  CHECK(alignment(x, neg(x)) == Approx(4.0).epsilon(1e-6));
  Tensor y = random_features(50, 12, 2);
  auto a = unit_rows_naive(x), b = unit_rows_naive(y);
  double ref = 0;
  for (size_t i = 0; i < a.size(); ++i) ref += sqdist(a[i], b[i]);
  CHECK(alignment(x, y) == Approx(ref / a.size()).epsilon(1e-6));
  CHECK_THROWS_WITH(alignment(x, random_features(49, 12, 3)), Catch::Contains("alignment") && Catch::Contains("[49, 12]"));
}

TEST_CASE("intra-class alignment matches the pairwise definition", "[eval][metrics]") {
  Tensor x = random_features(41, 6, 4);
  std::vector<int64_t> lab(41);
  for (int64_t i = 0; i < 40; ++i) lab[i] = i % 4;
  lab[40] = 9;  // a class with a single sample: no pairs, left out of the average
  auto u = unit_rows_naive(x);
  double total = 0;
  for (int64_t c = 0; c < 4; ++c) {
    double s = 0;
    int64_t pairs = 0;
    for (int64_t i = 0; i < 41; ++i)
      for (int64_t j = i + 1; j < 41; ++j)
        if (lab[i] == c && lab[j] == c) s += sqdist(u[i], u[j]), ++pairs;
    total += s / pairs;
  }
  Tensor labels = Tensor::from_vector<int64_t>(lab, {41});
  CHECK(intra_class_alignment(x, labels) == Approx(total / 4).epsilon(1e-6));

  // Collapsed classes have zero intra-class alignment; antipodal pairs have 4.
  Tensor collapsed = Tensor::from_vector<float>({1, 0, 2, 0, 0, 1, 0, 5}, {4, 2});
  Tensor l2 = Tensor::from_vector<int64_t>({0, 0, 1, 1}, {4});
  CHECK(intra_class_alignment(collapsed, l2) == Approx(0.0).margin(1e-12));
  Tensor apart = Tensor::from_vector<float>({1, 0, -1, 0, 0, 1, 0, -1}, {4, 2});
  CHECK(intra_class_alignment(apart, l2) == Approx(4.0));
}

TEST_CASE("uniformity of points evenly spread on a circle has the Bessel closed form", "[eval][metrics]") {
  // For unit vectors at angle t, ||x - y||^2 = 2 - 2 cos t, so exp(-2 ||x - y||^2) = e^{-4} e^{4 cos t}
  // and its mean over a uniform angle is e^{-4} I0(4).
  double i0 = bessel_i0(4.0);
  CHECK(i0 == Approx(11.3019219521).epsilon(1e-10));
  // ... which a fine grid of angles reproduces numerically:
  const int64_t grid = 100000;
  double m = 0;
  for (int64_t i = 0; i < grid; ++i) m += std::exp(-2 * (2 - 2 * std::cos(2 * M_PI * i / grid)));
  CHECK(m / grid == Approx(std::exp(-4.0) * i0).epsilon(1e-12));

  // With N evenly spaced points each row sums to N e^{-4} I0(4) (to machine precision), of which
  // the self-pair contributes 1: the mean over i != j is (N e^{-4} I0(4) - 1) / (N - 1).
  const int64_t n = 1500;
  double c = std::exp(-4.0) * i0;
  double finite = std::log((n * c - 1) / (n - 1));
  Tensor pts = circle_points(n, 5);  // embedded in 5-d: extra zero coordinates change nothing
  double u = uniformity(pts, 97);
  CHECK(u == Approx(finite).margin(2e-5));
  CHECK(u == Approx(-4.0 + std::log(i0)).margin(3e-3));  // the N -> infinity limit
}

TEST_CASE("uniformity agrees with the naive pairwise mean on random data", "[eval][metrics]") {
  Tensor x = random_features(123, 7, 5);
  auto u = unit_rows_naive(x);
  double s = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < u.size(); ++i)
    for (size_t j = i + 1; j < u.size(); ++j) s += std::exp(-2 * sqdist(u[i], u[j])), ++pairs;
  double ref = std::log(s / pairs);
  for (int64_t block : {1, 10, 123, 500}) {
    INFO("block " << block);
    CHECK(uniformity(x, block) == Approx(ref).margin(1e-5));
  }
  // Collapsed features: every distance 0, U = 0; the lower bound -4 is approached by antipodes.
  Tensor same = Tensor::from_vector<float>({1, 1, 1, 1, 1, 1}, {3, 2});
  CHECK(uniformity(same) == Approx(0.0).margin(1e-6));
  Tensor opposite = Tensor::from_vector<float>({1, 0, -1, 0}, {2, 2});
  CHECK(uniformity(opposite) == Approx(-8.0).margin(1e-5));
  CHECK_THROWS_WITH(uniformity(random_features(1, 3, 1)), Catch::Contains("uniformity") && Catch::Contains("two"));
}

TEST_CASE("retrieval accuracy: 1 when views equal originals, naive ranks otherwise", "[eval][metrics]") {
  Tensor o = random_features(64, 10, 6);
  std::vector<double> acc = retrieval_accuracy(o, o, 5, 9);
  REQUIRE(acc.size() == 5);
  for (double a : acc) CHECK(a == 1.0);

  // Noisy views: rank = number of other originals at least as similar as the view.
  Tensor noise = random_features(64, 10, 7);
  Tensor views = add(o, mul(noise, 0.9));
  auto uo = unit_rows_naive(o), uv = unit_rows_naive(views);
  std::vector<int64_t> hits(5, 0);
  for (size_t i = 0; i < uo.size(); ++i) {
    double sv = dot(uo[i], uv[i]);
    int64_t ahead = 0;
    for (size_t j = 0; j < uo.size(); ++j)
      if (j != i && dot(uo[i], uo[j]) >= sv) ++ahead;
    for (int64_t k = 0; k < 5; ++k) hits[k] += ahead <= k;
  }
  std::vector<double> got = retrieval_accuracy(o, views, 5, 16);
  for (int64_t k = 0; k < 5; ++k) CHECK(got[k] == Approx(hits[k] / 64.0));
  CHECK(got[0] < 1.0);  // the noise is large enough to cost some top-1 hits
  CHECK(std::is_sorted(got.begin(), got.end()));

  // Hand-placed: the view of 0 sits closer to original 1 than to original 0 -> rank 2.
  Tensor o3 = Tensor::from_vector<float>({1, 0, 0.8f, 0.6f, -1, 0}, {3, 2});
  Tensor v3 = Tensor::from_vector<float>({0.6f, 0.8f, 0.8f, 0.6f, -1, 0}, {3, 2});
  std::vector<double> a3 = retrieval_accuracy(o3, v3, 2);
  CHECK(a3[0] == Approx(2.0 / 3));
  CHECK(a3[1] == Approx(1.0));
}
