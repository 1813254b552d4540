// conv2d against a direct 7-loop convolution written here, float32 and float64, over a table of
// stride / padding / dilation / groups / depthwise cases with odd sizes; finite-difference
// gradients for input, weight and bias; non-contiguous inputs; and a weight that is a narrow()ed
// slice of a larger leaf, whose gradient must land only in the slice's region of the parent.
#include <catch2/catch.hpp>
#include <cmath>
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, O, kh, kw;
  Conv2dParams p;
};

Conv2dParams params(int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups) {
  Conv2dParams p;
  p.stride_h = sh, p.stride_w = sw, p.pad_h = ph, p.pad_w = pw, p.dilation_h = dh, p.dilation_w = dw;
  p.groups = groups;
  return p;
}

const std::vector<ConvCase>& cases() {
  static const std::vector<ConvCase> all = {
      {"3x3 pad 1", 2, 3, 7, 6, 4, 3, 3, params(1, 1, 1, 1, 1, 1, 1)},
      {"rectangular kernel, strides 2x3, pad 0x1", 1, 2, 9, 8, 3, 3, 2, params(2, 3, 0, 1, 1, 1, 1)},
      {"dilation 2x1 with padding", 2, 3, 8, 7, 2, 3, 3, params(1, 1, 2, 1, 2, 1, 1)},
      {"groups 2, stride 2", 2, 4, 7, 7, 6, 3, 3, params(2, 2, 1, 1, 1, 1, 2)},
      {"depthwise, stride 2", 2, 5, 7, 6, 5, 3, 3, params(2, 2, 1, 1, 1, 1, 5)},
      {"depthwise multiplier 2, dilated", 1, 3, 7, 7, 6, 3, 3, params(1, 1, 2, 2, 2, 2, 3)},
      {"1x1 (input read as columns)", 2, 4, 5, 3, 3, 1, 1, params(1, 1, 0, 0, 1, 1, 1)},
      {"1x1 stride 2", 2, 4, 5, 5, 3, 1, 1, params(2, 2, 0, 0, 1, 1, 1)},
      {"kernel as large as the padded input", 1, 2, 3, 2, 2, 5, 4, params(1, 1, 1, 1, 1, 1, 1)},
  };
  return all;
}

// The definition, looped directly: out[n,o,i,j] = b[o] + sum_{c,ki,kj} x[n, g*Cg+c, ih, iw] w[o,c,ki,kj].
Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> bv = b.defined() ? b.to_vector<double>() : std::vector<double>(w.size(0), 0.0);
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t O = w.size(0), Cg = w.size(1), kh = w.size(2), kw = w.size(3), Og = O / p.groups;
  int64_t OH = (H + 2 * p.pad_h - p.dilation_h * (kh - 1) - 1) / p.stride_h + 1;
  int64_t OW = (W + 2 * p.pad_w - p.dilation_w * (kw - 1) - 1) / p.stride_w + 1;
  std::vector<double> out(N * O * OH * OW);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < OH; ++i)
        for (int64_t j = 0; j < OW; ++j) {
          double acc = bv[o];
          for (int64_t c = 0; c < Cg; ++c)
            for (int64_t ki = 0; ki < kh; ++ki)
              for (int64_t kj = 0; kj < kw; ++kj) {
                int64_t ih = i * p.stride_h - p.pad_h + ki * p.dilation_h;
                int64_t iw = j * p.stride_w - p.pad_w + kj * p.dilation_w;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                int64_t ci = (o / Og) * Cg + c;
                acc += xv[((n * C + ci) * H + ih) * W + iw] * wv[((o * Cg + c) * kh + ki) * kw + kj];
              }
          out[((n * O + o) * OH + i) * OW + j] = acc;
        }
  return Tensor::from_vector(out, {N, O, OH, OW});
}

struct ConvInputs {
  Tensor x, w, b;
};

ConvInputs make_inputs(const ConvCase& c, uint64_t seed, DType dtype = DType::F64) {
  return {randu({c.N, c.C, c.H, c.W}, seed, -1, 1, dtype),
          randu({c.O, c.C / c.p.groups, c.kh, c.kw}, seed + 1, -1, 1, dtype), randu({c.O}, seed + 2, -1, 1, dtype)};
}

}  // namespace

TEST_CASE("conv2d forward matches the direct definition", "[conv]") {
  for (DType dtype : {DType::F32, DType::F64}) {
    double tol = dtype == DType::F32 ? 1e-4 : 1e-11;
    for (const auto& c : cases()) {
      INFO(c.name << " " << dtype_name(dtype));
      ConvInputs in = make_inputs(c, 10, dtype);
      Tensor y = conv2d(in.x, in.w, in.b, c.p);
      CHECK(y.dtype() == dtype);
      CHECK(allclose(y, naive_conv(in.x, in.w, in.b, c.p), tol, tol));
      CHECK(allclose(conv2d(in.x, in.w, {}, c.p), naive_conv(in.x, in.w, {}, c.p), tol, tol));
    }
  }
}

TEST_CASE("conv2d reads non-contiguous inputs and weights through their strides", "[conv]") {
  for (const auto& c : cases()) {
    INFO(c.name);
    ConvInputs in = make_inputs(c, 20);
    Tensor expected = naive_conv(in.x, in.w, in.b, c.p);
    // Padded last dimension (poisoned with 1e30), and channels-last: the layout is only strides.
    CHECK(allclose(conv2d(noncontiguous(in.x), noncontiguous(in.w), noncontiguous(in.b), c.p), expected, 1e-11, 1e-11));
    Tensor x_nhwc = in.x.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
    Tensor w_ohwi = in.w.permute({0, 2, 3, 1}).contiguous().permute({0, 3, 1, 2});
    CHECK(x_nhwc.stride(1) == 1);
    CHECK(allclose(conv2d(x_nhwc, w_ohwi, in.b, c.p), expected, 1e-11, 1e-11));
  }
}

TEST_CASE("conv2d gradients match finite differences", "[conv]") {
  for (const auto& c : cases()) {
    INFO(c.name);
    ConvInputs in = make_inputs(c, 30);
    for (bool strided : {false, true}) {
      INFO("non-contiguous inputs: " << strided);
      Tensor x = strided ? noncontiguous(in.x) : in.x.clone().detach();
      Tensor w = strided ? noncontiguous(in.w) : in.w.clone().detach();
      Tensor b = strided ? noncontiguous(in.b) : in.b.clone().detach();
      x.set_requires_grad(), w.set_requires_grad(), b.set_requires_grad();
      auto r = gradcheck([&](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], v[2], c.p); }, {x, w, b});
      CHECK(r.ok);
      if (!r.ok) WARN(r.message);
    }
    // Without bias, and with only the input requiring a gradient.
    Tensor x = in.x.clone().detach().set_requires_grad();
    auto r = gradcheck([&](const std::vector<Tensor>& v) { return conv2d(v[0], v[1], {}, c.p); }, {x, in.w});
    CHECK(r.ok);
    if (!r.ok) WARN(r.message);
  }
}

TEST_CASE("conv2d split over threads agrees with image-by-image results", "[conv]") {
  // Big enough (about 2M multiply-adds, 4 images) for the batch to be split over threads, while
  // each single image runs on one thread: per-thread weight gradients must add up exactly.
  for (int64_t groups : {1, 4}) {
    INFO("groups " << groups);
    Conv2dParams p = params(1, 1, 1, 1, 1, 1, groups);
    Tensor x = randu({4, 16, 16, 16}, 35).set_requires_grad();
    Tensor w = randu({16, 16 / groups, 3, 3}, 36).set_requires_grad(), b = randu({16}, 37).set_requires_grad();
    Tensor weights = randu({4, 16, 16, 16}, 38);
    Tensor y = conv2d(x, w, b, p);
    CHECK(allclose(y, naive_conv(x, w, b, p), 1e-10, 1e-10));
    sum(mul(y, weights)).backward();
    Tensor gx = x.grad(), gw = w.grad(), gb = b.grad();
    x.zero_grad(), w.zero_grad(), b.zero_grad();
    for (int64_t n = 0; n < 4; ++n)
      sum(mul(conv2d(x.narrow(0, n, 1), w, b, p), weights.narrow(0, n, 1))).backward();
    CHECK(allclose(gx, x.grad(), 1e-10, 1e-10));
    CHECK(allclose(gw, w.grad(), 1e-10, 1e-10));
    CHECK(allclose(gb, b.grad(), 1e-10, 1e-10));
  }
}

TEST_CASE("float32 conv passes over blocks of images agree with the float64 results", "[conv]") {
  // Small maps are batched several images to a gemm, with a short last block (13 images of 7x7:
  // blocks of 6, 6, 1); stride-1 data gradients run as a convolution of gy, strided ones through
  // col2im; "same" padding unfolds each plane as one shifted copy. float32 (the blocked gemm) against float64 (the plain reference gemm, gradchecked
  // above), for the output and both gradients.
  struct Case {
    const char* name;
    int64_t C, H, O, kh;
    Conv2dParams p;
  };
  for (const auto& c : {Case{"3x3 pad 1", 8, 7, 12, 3, params(1, 1, 1, 1, 1, 1, 1)},
                        Case{"3x3 pad 1, groups 2", 8, 7, 12, 3, params(1, 1, 1, 1, 1, 1, 2)},
                        Case{"3x3 pad 0, dilation 2", 4, 9, 8, 3, params(1, 1, 0, 0, 2, 2, 1)},
                        Case{"3x3 pad 2, dilation 2", 4, 5, 8, 3, params(1, 1, 2, 2, 2, 2, 1)},
                        Case{"5x5 pad 2 on a 2x2 map (shifts past both edges)", 4, 2, 6, 5, params(1, 1, 2, 2, 1, 1, 1)},
                        Case{"3x3 stride 2", 8, 7, 12, 3, params(2, 2, 1, 1, 1, 1, 1)},
                        Case{"1x1", 8, 7, 12, 1, params(1, 1, 0, 0, 1, 1, 1)}}) {
    INFO(c.name);
    const int64_t kh = c.kh;
    Tensor x64 = randu({13, c.C, c.H, c.H}, 60), w64 = randu({c.O, c.C / c.p.groups, kh, kh}, 61);
    Tensor b64 = randu({c.O}, 62);
    std::vector<Tensor> grads[2];
    Tensor outs[2];
    for (int i = 0; i < 2; ++i) {
      const DType dt = i == 0 ? DType::F64 : DType::F32;
      Tensor x = x64.to(dt).detach().set_requires_grad(), w = w64.to(dt).detach().set_requires_grad();
      Tensor b = b64.to(dt).detach().set_requires_grad();
      outs[i] = conv2d(x, w, b, c.p);
      sum(mul(outs[i], randu(outs[i].shape(), 63, -1, 1, dt))).backward();
      grads[i] = {x.grad(), w.grad(), b.grad()};
    }
    CHECK(allclose(outs[1].to(DType::F64), outs[0], 1e-4, 1e-4));
    CHECK(allclose(outs[0], naive_conv(x64, w64, b64, c.p), 1e-11, 1e-11));
    for (int k = 0; k < 3; ++k) {
      INFO("gradient " << k);
      CHECK(allclose(grads[1][k].to(DType::F64), grads[0][k], 1e-3, 1e-4));
    }
  }
}

TEST_CASE("a conv weight slice's gradient lands only in its region of the parent", "[conv][views]") {
  struct SliceCase {
    const char* name;
    Shape big;        // parent weight [O, C, kh, kw]
    int64_t k_out, k_in, groups, c_in;
  };
  for (const auto& sc : {SliceCase{"dense 4 of 6 out, 3 of 5 in", {6, 5, 3, 3}, 4, 3, 1, 3},
                         SliceCase{"depthwise 5 of 8 channels", {8, 1, 3, 3}, 5, 1, 5, 5},
                         SliceCase{"grouped 4 of 6 out, 2 of 3 in per group", {6, 3, 3, 3}, 4, 2, 2, 4},
                         SliceCase{"1x1, 3 of 7 out, 4 of 6 in", {7, 6, 1, 1}, 3, 4, 1, 4}}) {
    INFO(sc.name);
    Conv2dParams p = params(1, 1, sc.big[2] / 2, sc.big[3] / 2, 1, 1, sc.groups);
    Tensor W = randu(sc.big, 40).set_requires_grad();
    Tensor x = randu({2, sc.c_in, 5, 6}, 41);
    Tensor slice = W.narrow(0, 0, sc.k_out).narrow(1, 0, sc.k_in);
    REQUIRE(slice.storage() == W.storage());  // a view, not a copy
    Tensor weights = randu({2, sc.k_out, 5, 6}, 42);

    Tensor y = conv2d(x, slice, {}, p);
    CHECK(allclose(y, naive_conv(x, slice, {}, p), 1e-11, 1e-11));
    sum(mul(y, weights)).backward();

    // The same loss with a contiguous copy of the slice as its own leaf.
    Tensor copy = slice.detach().clone().detach().set_requires_grad();
    sum(mul(conv2d(x, copy, {}, p), weights)).backward();

    Tensor g = W.grad();
    REQUIRE(g.defined());
    REQUIRE(g.shape() == W.shape());
    Tensor inside = g.narrow(0, 0, sc.k_out).narrow(1, 0, sc.k_in);
    CHECK(allclose(inside, copy.grad(), 1e-12, 1e-12));
    CHECK(sum(abs(inside)).item() > 0);
    // Everything outside the slice stays exactly zero.
    double outside = sum(abs(g)).item() - sum(abs(inside)).item();
    CHECK(outside == Approx(0.0).margin(1e-12));
    if (sc.k_out < sc.big[0]) CHECK(sum(abs(g.narrow(0, sc.k_out, sc.big[0] - sc.k_out))).item() == 0.0);
    if (sc.k_in < sc.big[1]) CHECK(sum(abs(g.narrow(1, sc.k_in, sc.big[1] - sc.k_in))).item() == 0.0);

    // And the parent's gradient through the slice matches finite differences on the parent.
    Tensor Wc = randu(sc.big, 43).set_requires_grad();
    Tensor xs = randu({1, sc.c_in, 4, 3}, 44).set_requires_grad();
    auto through_slice = [&](const std::vector<Tensor>& v) {
      return conv2d(v[0], v[1].narrow(0, 0, sc.k_out).narrow(1, 0, sc.k_in), {}, p);
    };
    auto r = gradcheck(through_slice, {xs, Wc});
    CHECK(r.ok);
    if (!r.ok) WARN(r.message);
  }
}

TEST_CASE("conv2d rejects mismatched shapes with messages naming them", "[conv]") {
  Tensor x = randu({1, 4, 5, 5}, 50), w = randu({6, 3, 3, 3}, 51);
  CHECK_THROWS_WITH(conv2d(x, w), Catch::Contains("conv2d") && Catch::Contains("[6, 3, 3, 3]"));
  Conv2dParams g3 = params(1, 1, 0, 0, 1, 1, 3);
  CHECK_THROWS_WITH(conv2d(x, randu({6, 1, 3, 3}, 52), {}, g3), Catch::Contains("groups 3"));
  CHECK_THROWS_WITH(conv2d(x, randu({2, 4, 7, 7}, 53)), Catch::Contains("smaller than the dilated kernel"));
  CHECK_THROWS_WITH(conv2d(x, randu({2, 4, 3, 3}, 54), randu({3}, 55)), Catch::Contains("bias [3]"));
  CHECK_THROWS_WITH(conv2d(x, randu({2, 4, 3, 3}, 56, -1, 1, DType::F32)), Catch::Contains("dtype mismatch"));
  CHECK_THROWS_WITH(conv2d(randu({4, 5, 5}, 57), w), Catch::Contains("[N, C, H, W]"));
}
