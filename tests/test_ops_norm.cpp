// batch_norm, layer_norm and dropout. Forward values against statistics computed by hand here;
// the running-statistics update against PyTorch's rule written out; finite-difference gradients
// (training mode goes through the batch statistics), non-contiguous inputs; dropout's mask
// against the documented (seed, counter, element) keying of RandomStream.
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/rng.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

// Per-channel mean and biased variance of x ([N, C] or [N, C, H, W]), by loops.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  auto v = x.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  mean.assign(C, 0), var.assign(C, 0);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) mean[c] += v[(n * C + c) * S + s];
    mean[c] /= double(N * S);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t s = 0; s < S; ++s) var[c] += std::pow(v[(n * C + c) * S + s] - mean[c], 2);
    var[c] /= double(N * S);
  }
}

// (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c], by loops.
Tensor naive_bn(const Tensor& x, const std::vector<double>& mean, const std::vector<double>& var, const Tensor& w,
                const Tensor& b, double eps) {
  auto v = x.to_vector<double>();
  int64_t N = x.size(0), C = x.size(1), S = x.numel() / (N * C);
  auto wv = w.defined() ? w.to_vector<double>() : std::vector<double>(C, 1.0);
  auto bv = b.defined() ? b.to_vector<double>() : std::vector<double>(C, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t s = 0; s < S; ++s) {
        double& e = v[(n * C + c) * S + s];
        e = (e - mean[c]) / std::sqrt(var[c] + eps) * wv[c] + bv[c];
      }
  return Tensor::from_vector(v, x.shape());
}

void expect_gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& in) {
  auto r = gradcheck(f, in);
  CHECK(r.ok);
  if (!r.ok) WARN(r.message);
}

}  // namespace

TEST_CASE("batch_norm training normalizes with batch statistics and updates running ones", "[norm]") {
  for (DType dtype : {DType::F32, DType::F64}) {
    for (Shape shape : {Shape{5, 3}, Shape{3, 4, 5, 3}}) {
      INFO(dtype_name(dtype) << " " << shape_str(shape));
      int64_t C = shape[1], count = numel_of(shape) / C;
      Tensor x = randu(shape, 70, -2, 3, dtype), w = randu({C}, 71, 0.5, 1.5, dtype), b = randu({C}, 72, -1, 1, dtype);
      Tensor rm = randu({C}, 73, -1, 1, dtype), rv = randu({C}, 74, 0.5, 2, dtype);
      auto rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
      std::vector<double> mean, var;
      channel_stats(x, mean, var);
      double tol = dtype == DType::F32 ? 1e-5 : 1e-12;

      Tensor y = batch_norm(x, w, b, rm, rv, true, 0.2, 1e-3);
      CHECK(allclose(y, naive_bn(x, mean, var, w, b, 1e-3), tol, tol));
      // PyTorch: running = (1 - momentum) * running + momentum * batch, variance unbiased.
      auto rm1 = rm.to_vector<double>(), rv1 = rv.to_vector<double>();
      for (int64_t c = 0; c < C; ++c) {
        CHECK(rm1[c] == Approx(0.8 * rm0[c] + 0.2 * mean[c]).epsilon(tol));
        CHECK(rv1[c] == Approx(0.8 * rv0[c] + 0.2 * var[c] * count / (count - 1)).epsilon(tol));
      }
      // Without affine parameters or running statistics.
      CHECK(allclose(batch_norm(x, {}, {}, {}, {}, true), naive_bn(x, mean, var, {}, {}, 1e-5), tol, tol));
      // A non-contiguous input gives the same result.
      CHECK(allclose(batch_norm(noncontiguous(x), w, b, {}, {}, true, 0.1, 1e-3), y, tol, tol));
      if (shape.size() == 4) {
        // Rows contiguous but not planes (a narrowed width), and channels-last: same as contiguous.
        Tensor rows = x.narrow(3, 1, 2);
        CHECK(allclose(batch_norm(rows, w, b, {}, {}, true, 0.1, 1e-3),
                       batch_norm(rows.contiguous(), w, b, {}, {}, true, 0.1, 1e-3), tol, tol));
        Tensor nhwc = x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
        CHECK(allclose(batch_norm(nhwc, w, b, {}, {}, true, 0.1, 1e-3), y, tol, tol));
      }
    }
  }
}

TEST_CASE("batch_norm eval uses the running statistics and leaves them alone", "[norm]") {
  Tensor x = randu({4, 3, 3, 2}, 75), w = randu({3}, 76), b = randu({3}, 77);
  Tensor rm = randu({3}, 78), rv = randu({3}, 79, 0.5, 2);
  auto rm0 = rm.to_vector<double>(), rv0 = rv.to_vector<double>();
  Tensor y = batch_norm(x, w, b, rm, rv, false, 0.1, 1e-5);
  CHECK(allclose(y, naive_bn(x, rm0, rv0, w, b, 1e-5), 1e-12, 1e-12));
  CHECK(rm.to_vector<double>() == rm0);
  CHECK(rv.to_vector<double>() == rv0);
  // Train a few steps, then eval reproduces normalization by the accumulated statistics.
  Tensor rm2 = Tensor::zeros({3}, DType::F64), rv2 = Tensor::ones({3}, DType::F64);
  for (int step = 0; step < 3; ++step) batch_norm(randu({4, 3, 3, 2}, 80 + step), w, b, rm2, rv2, true);
  Tensor expected = naive_bn(x, rm2.to_vector<double>(), rv2.to_vector<double>(), w, b, 1e-5);
  CHECK(allclose(batch_norm(x, w, b, rm2, rv2, false), expected, 1e-12, 1e-12));
}

TEST_CASE("batch_norm gradients match finite differences", "[norm]") {
  for (Shape shape : {Shape{5, 3}, Shape{3, 2, 3, 2}}) {
    for (bool training : {true, false}) {
      for (bool strided : {false, true}) {
        INFO(shape_str(shape) << " training " << training << " non-contiguous " << strided);
        int64_t C = shape[1];
        Tensor x0 = randu(shape, 81), w0 = randu({C}, 82, 0.5, 1.5), b0 = randu({C}, 83);
        Tensor x = strided ? noncontiguous(x0) : x0, w = strided ? noncontiguous(w0) : w0;
        Tensor b = strided ? noncontiguous(b0) : b0;
        x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad();
        Tensor rm = randu({C}, 84), rv = randu({C}, 85, 0.5, 2);
        expect_gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], v[1], v[2], rm, rv, training); },
                         {x, w, b});
        expect_gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], {}, {}, rm, rv, training); }, {x});
        if (shape.size() == 4) {  // rows contiguous, planes not: a narrowed width
          Tensor rows = randu({3, 2, 3, 4}, 86).narrow(3, 1, 2).set_requires_grad();
          expect_gradcheck([&](const std::vector<Tensor>& v) { return batch_norm(v[0], w, b, rm, rv, training); },
                           {rows});
        }
      }
    }
  }
}

TEST_CASE("batch_norm rejects bad arguments", "[norm]") {
  CHECK_THROWS_WITH(batch_norm(randu({1, 3}, 86), {}, {}, {}, {}, true), Catch::Contains("more than one value"));
  CHECK_THROWS_WITH(batch_norm(randu({4, 3}, 87), randu({4}, 88), {}, {}, {}, true),
                    Catch::Contains("batch_norm: weight [4]"));
  CHECK_THROWS_WITH(batch_norm(randu({4, 3}, 89), {}, {}, {}, {}, false), Catch::Contains("running statistics"));
  CHECK_THROWS_WITH(batch_norm(randu({4, 3, 2}, 90), {}, {}, {}, {}, true), Catch::Contains("[N, C, H, W]"));
}

TEST_CASE("layer_norm normalizes the trailing dimensions", "[norm]") {
  for (DType dtype : {DType::F32, DType::F64}) {
    for (int64_t nd : {1, 2}) {
      INFO(dtype_name(dtype) << " normalized dims " << nd);
      Tensor x = randu({3, 4, 5}, 91, -2, 3, dtype);
      Shape ns = nd == 1 ? Shape{5} : Shape{4, 5};
      Tensor w = randu(ns, 92, 0.5, 1.5, dtype), b = randu(ns, 93, -1, 1, dtype);
      // By hand: each of the leading rows has its own mean and biased variance.
      auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
      int64_t cols = numel_of(ns), rows = x.numel() / cols;
      std::vector<double> expected(xv.size()), plain(xv.size());
      for (int64_t r = 0; r < rows; ++r) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < cols; ++j) m += xv[r * cols + j] / cols;
        for (int64_t j = 0; j < cols; ++j) v += std::pow(xv[r * cols + j] - m, 2) / cols;
        for (int64_t j = 0; j < cols; ++j) {
          plain[r * cols + j] = (xv[r * cols + j] - m) / std::sqrt(v + 1e-5);
          expected[r * cols + j] = plain[r * cols + j] * wv[j] + bv[j];
        }
      }
      double tol = dtype == DType::F32 ? 1e-5 : 1e-12;
      CHECK(allclose(layer_norm(x, w, b, nd), Tensor::from_vector(expected, x.shape()), tol, tol));
      CHECK(allclose(layer_norm(noncontiguous(x), w, b, nd), Tensor::from_vector(expected, x.shape()), tol, tol));
      CHECK(allclose(layer_norm(x, {}, {}, nd), Tensor::from_vector(plain, x.shape()), tol, tol));
    }
  }
}

TEST_CASE("layer_norm gradients match finite differences", "[norm]") {
  for (int64_t nd : {1, 2}) {
    for (bool strided : {false, true}) {
      INFO("normalized dims " << nd << " non-contiguous " << strided);
      Shape ns = nd == 1 ? Shape{4} : Shape{3, 4};
      Tensor x0 = randu({2, 3, 4}, 94), w0 = randu(ns, 95, 0.5, 1.5), b0 = randu(ns, 96);
      Tensor x = strided ? noncontiguous(x0) : x0, w = strided ? noncontiguous(w0) : w0;
      Tensor b = strided ? noncontiguous(b0) : b0;
      x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad();
      expect_gradcheck([&](const std::vector<Tensor>& v) { return layer_norm(v[0], v[1], v[2], nd); }, {x, w, b});
      expect_gradcheck([&](const std::vector<Tensor>& v) { return layer_norm(v[0], {}, {}, nd); }, {x});
    }
  }
  CHECK_THROWS_WITH(layer_norm(randu({2, 3}, 97), randu({2}, 98), {}), Catch::Contains("layer_norm: weight/bias [2]"));
}

TEST_CASE("dropout draws a reproducible inverted mask from (seed, counter, element)", "[norm]") {
  Tensor x = randu({64, 33}, 99, 0.5, 1.5);
  // Identity when off.
  CHECK(dropout(x, 0.0, true, 1, 2).same(x));
  CHECK(dropout(x, 0.4, false, 1, 2).same(x));
  Tensor y = dropout(x, 0.4, true, 7, 3);
  auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
  int64_t kept = 0;
  for (size_t e = 0; e < xv.size(); ++e) {
    // The documented keying: draw e % 4 of RandomStream(seed, counter lo, counter hi, e / 4).
    RandomStream rs(7, 3, 0, static_cast<uint32_t>(e / 4));
    float u = 0;
    for (size_t i = 0; i <= e % 4; ++i) u = rs.uniform();
    bool keep = u >= 0.4;
    kept += keep;
    REQUIRE(yv[e] == Approx(keep ? xv[e] / 0.6 : 0.0).epsilon(1e-12));
  }
  double frac = double(kept) / double(xv.size());
  CHECK(frac == Approx(0.6).margin(0.05));
  // Same key, same mask (also for a non-contiguous input); another counter, another mask.
  CHECK(allclose(dropout(noncontiguous(x), 0.4, true, 7, 3), y, 0, 0));
  CHECK(!allclose(dropout(x, 0.4, true, 7, 4), y, 0, 0));
  // The gradient is the same scaled mask.
  Tensor xr = x.clone().detach().set_requires_grad();
  sum(dropout(xr, 0.4, true, 7, 3)).backward();
  CHECK(allclose(mul(xr.grad(), x), y, 1e-12, 1e-12));
  CHECK_THROWS_WITH(dropout(x, 1.0, true, 1, 1), Catch::Contains("dropout: probability"));
  CHECK_THROWS_WITH(dropout(x, -0.1, true, 1, 1), Catch::Contains("[0, 1)"));
}
