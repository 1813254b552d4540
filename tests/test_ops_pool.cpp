// Pooling against direct loops written here (float32 and float64, odd sizes, padding), a few
// hand-computed values that pin down the conventions (padding is -inf for max and counted for
// average; adaptive bins are floor/ceil), finite-difference gradients, and non-contiguous inputs.
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

enum class Kind { Max, Avg };

// Fixed-window pooling by the definition: every window position inside the padded input.
Tensor naive_pool(const Tensor& x, Kind kind, int64_t k, int64_t s, int64_t pad) {
  auto xv = x.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t OH = (H + 2 * pad - k) / s + 1, OW = (W + 2 * pad - k) / s + 1;
  std::vector<double> out;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < OH; ++i)
      for (int64_t j = 0; j < OW; ++j) {
        double best = -INFINITY, total = 0;
        for (int64_t a = 0; a < k; ++a)
          for (int64_t b = 0; b < k; ++b) {
            int64_t h = i * s - pad + a, w = j * s - pad + b;
            bool inside = h >= 0 && h < H && w >= 0 && w < W;
            double v = inside ? xv[(nc * H + h) * W + w] : 0.0;  // a padded cell adds 0 but counts
            if (inside) best = std::max(best, v);
            total += v;
          }
        out.push_back(kind == Kind::Max ? best : total / static_cast<double>(k * k));
      }
  return Tensor::from_vector(out, {N, C, OH, OW});
}

Tensor naive_adaptive(const Tensor& x, int64_t oh, int64_t ow) {
  auto xv = x.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> out;
  for (int64_t nc = 0; nc < N * C; ++nc)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        auto h0 = static_cast<int64_t>(std::floor(double(i * H) / oh));
        auto h1 = static_cast<int64_t>(std::ceil(double((i + 1) * H) / oh));
        auto w0 = static_cast<int64_t>(std::floor(double(j * W) / ow));
        auto w1 = static_cast<int64_t>(std::ceil(double((j + 1) * W) / ow));
        double total = 0;
        for (int64_t h = h0; h < h1; ++h)
          for (int64_t w = w0; w < w1; ++w) total += xv[(nc * H + h) * W + w];
        out.push_back(total / static_cast<double>((h1 - h0) * (w1 - w0)));
      }
  return Tensor::from_vector(out, {N, C, oh, ow});
}

struct WindowCase {
  int64_t N, C, H, W, k, s, pad;
};
const std::vector<WindowCase> kWindows = {
    {2, 3, 7, 6, 3, 2, 1}, {1, 2, 5, 5, 2, 2, 0}, {2, 1, 9, 7, 3, 3, 1}, {1, 3, 4, 5, 2, 1, 1}, {1, 2, 6, 6, 5, 1, 2},
};

void check_grad(const std::function<Tensor(const Tensor&)>& f, const Tensor& x0) {
  for (bool strided : {false, true}) {
    INFO("non-contiguous input: " << strided);
    Tensor x = strided ? noncontiguous(x0) : x0.clone().detach();
    x.set_requires_grad();
    auto r = gradcheck([&](const std::vector<Tensor>& v) { return f(v[0]); }, {x});
    CHECK(r.ok);
    if (!r.ok) WARN(r.message);
  }
}

}  // namespace

TEST_CASE("max_pool2d and avg_pool2d match direct loops", "[pool]") {
  for (DType dtype : {DType::F32, DType::F64}) {
    for (const auto& c : kWindows) {
      INFO(dtype_name(dtype) << " H " << c.H << " W " << c.W << " k " << c.k << " s " << c.s << " pad " << c.pad);
      Tensor x = randu({c.N, c.C, c.H, c.W}, 60, -1, 1, dtype);
      CHECK(allclose(max_pool2d(x, c.k, c.s, c.pad), naive_pool(x, Kind::Max, c.k, c.s, c.pad), 0, 0));
      CHECK(allclose(avg_pool2d(x, c.k, c.s, c.pad), naive_pool(x, Kind::Avg, c.k, c.s, c.pad), 1e-6, 1e-6));
      Tensor xs = noncontiguous(x);
      CHECK(allclose(max_pool2d(xs, c.k, c.s, c.pad), naive_pool(x, Kind::Max, c.k, c.s, c.pad), 0, 0));
      CHECK(allclose(avg_pool2d(xs, c.k, c.s, c.pad), naive_pool(x, Kind::Avg, c.k, c.s, c.pad), 1e-6, 1e-6));
    }
  }
}

TEST_CASE("pooling conventions: padding is -inf for max and counted for average", "[pool]") {
  // All-negative input: a max over a window that includes padding never returns 0.
  Tensor neg = Tensor::full({1, 1, 3, 3}, -2.0, DType::F64);
  CHECK(sum(abs(add(max_pool2d(neg, 3, 1, 1), 2.0))).item() == 0.0);
  // Ones, 2x2 window, stride 1, pad 1: corners see 1 of 4 cells, edges 2, the centre 4.
  Tensor ones = Tensor::ones({1, 1, 2, 2}, DType::F64);
  std::vector<double> expected = {0.25, 0.5, 0.25, 0.5, 1.0, 0.5, 0.25, 0.5, 0.25};
  CHECK(avg_pool2d(ones, 2, 1, 1).to_vector<double>() == expected);
}

TEST_CASE("max_pool2d sends the gradient to the first maximum", "[pool]") {
  Tensor x = Tensor::from_vector<double>({1, 5, 5, 2}, {1, 1, 2, 2}).set_requires_grad();
  sum(max_pool2d(x, 2, 2, 0)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0});
  // Overlapping windows that share a maximum add up there.
  Tensor y = Tensor::from_vector<double>({0, 0, 0, 0, 9, 0, 0, 0, 0}, {1, 1, 3, 3}).set_requires_grad();
  sum(max_pool2d(y, 2, 1, 0)).backward();
  CHECK(element_as_double(y.grad(), 4) == 4.0);
  CHECK(sum(y.grad()).item() == 4.0);
}

TEST_CASE("adaptive_avg_pool2d uses PyTorch's floor/ceil bins", "[pool]") {
  // 5 rows into 3 bins: [0, 2), [1, 4), [3, 5).
  Tensor x = Tensor::arange(5, DType::F64).reshape({1, 1, 5, 1});
  CHECK(adaptive_avg_pool2d(x, 3, 1).to_vector<double>() == std::vector<double>{0.5, 2.0, 3.5});
  for (DType dtype : {DType::F32, DType::F64}) {
    Tensor r = randu({2, 3, 7, 5}, 61, -1, 1, dtype);
    for (auto [oh, ow] : {std::pair<int64_t, int64_t>{3, 2}, {1, 1}, {7, 5}, {4, 3}, {9, 8}}) {
      INFO(dtype_name(dtype) << " out " << oh << "x" << ow);
      CHECK(allclose(adaptive_avg_pool2d(r, oh, ow), naive_adaptive(r, oh, ow), 1e-6, 1e-6));
      CHECK(allclose(adaptive_avg_pool2d(noncontiguous(r), oh, ow), naive_adaptive(r, oh, ow), 1e-6, 1e-6));
    }
    // 1x1 is the global average.
    CHECK(allclose(adaptive_avg_pool2d(r, 1, 1).reshape({2, 3}), mean(r, {2, 3}), 1e-6, 1e-6));
  }
}

TEST_CASE("pooling gradients match finite differences", "[pool]") {
  for (const auto& c : kWindows) {
    INFO("H " << c.H << " W " << c.W << " k " << c.k << " s " << c.s << " pad " << c.pad);
    // Distinct values (a shuffled ramp) so no finite-difference step changes which element is the max.
    Tensor x = add(mul(randu({c.N, c.C, c.H, c.W}, 62), 0.01),
                   Tensor::arange(c.N * c.C * c.H * c.W, DType::F64).reshape({c.N, c.C, c.H, c.W}).permute({0, 1, 3, 2})
                       .contiguous().reshape({c.N, c.C, c.H, c.W}));
    check_grad([&](const Tensor& v) { return max_pool2d(v, c.k, c.s, c.pad); }, x);
    check_grad([&](const Tensor& v) { return avg_pool2d(v, c.k, c.s, c.pad); }, x);
  }
  Tensor x = randu({2, 2, 7, 5}, 63);
  check_grad([](const Tensor& v) { return adaptive_avg_pool2d(v, 3, 2); }, x);
  check_grad([](const Tensor& v) { return adaptive_avg_pool2d(v, 9, 8); }, x);
}

TEST_CASE("pooling rejects bad windows with messages", "[pool]") {
  Tensor x = randu({1, 1, 4, 4}, 64);
  CHECK_THROWS_WITH(max_pool2d(x, 2, 2, 2), Catch::Contains("max_pool2d") && Catch::Contains("half the kernel"));
  CHECK_THROWS_WITH(avg_pool2d(x, 5, 1, 0), Catch::Contains("smaller than the kernel"));
  CHECK_THROWS_WITH(avg_pool2d(x, 2, 0, 0), Catch::Contains("stride must be positive"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(randu({4, 4}, 65), 2, 2), Catch::Contains("[N, C, H, W]"));
  CHECK_THROWS_WITH(adaptive_avg_pool2d(x, 0, 2), Catch::Contains("positive"));
}
