// conv2d's float32 Winograd F(4x4, 3x3) path (engine/cpu/winograd.*), which float64 never takes:
// the output and both gradients against the float64 results (im2col and the plain reference
// gemm, checked against the definition and finite differences in test_ops_conv.cpp), within
// tolerances that grow with each pass's reduction length; float32 finite differences, exact up to
// rounding because a conv is linear in each operand; strided views and a weight slice; one and
// two threads. Every case first asserts that the shape takes the Winograd path, so the
// comparisons cannot pass by falling back to im2col.
#include <catch2/catch.hpp>
#include <omp.h>
#include <cmath>
#include "engine/cpu/winograd.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

struct WinoCase {
  const char* name;
  int64_t N, C, H, W, O, pad;
};

// Odd and even maps (tiles cut by the edge: 7, 9, 11, 3), channel counts that are and are not
// multiples of the 8 lanes, padding 0, 1, 2 (2: the data gradient of an unpadded conv), batch 1,
// and batches that span several blocks of images with a short last one (8x8 maps, 48 outputs:
// 16 images a block).
const std::vector<WinoCase>& wino_cases() {
  static const std::vector<WinoCase> all = {
      {"32 -> 32, 8x8, pad 1", 3, 32, 8, 8, 32, 1},
      {"33 -> 35, 7x9, pad 1, batch 1", 1, 33, 7, 9, 35, 1},
      {"40 -> 36, 11x10, pad 0", 2, 40, 11, 10, 36, 0},
      {"36 -> 34, 9x6, pad 2", 2, 36, 9, 6, 34, 2},
      {"32 -> 40, 3x3, pad 1 (one tile, cut by both edges)", 3, 32, 3, 3, 40, 1},
      {"64 -> 48, 8x8, pad 1, 70 images (5 blocks)", 70, 64, 8, 8, 48, 1},
  };
  return all;
}

Conv2dParams pad_params(int64_t pad) {
  Conv2dParams p;
  p.pad_h = p.pad_w = pad;
  return p;
}

cpu::Winograd3x3 shape_of(const WinoCase& c) {
  const int64_t OH = c.H + 2 * c.pad - 2, OW = c.W + 2 * c.pad - 2;
  return {c.N, c.C, c.H, c.W, c.O, OH, OW, c.pad, c.pad, c.C * c.H * c.W, c.H * c.W, c.W};
}

// Rounding error of a float32 sum of n products of values in [-1, 1] grows at most like
// n * eps. Winograd's transforms amplify it: cases like these measured up to 5.4e-7 * n (about
// 5 eps per term), against 0.3-0.6 eps per term for im2col + gemm on the same shapes; F(4x4, 3x3)'s
// points (0, +-1, +-2) are known for that factor of about ten. 2e-6 * n leaves a margin of
// four; a wrong coefficient or a misplaced tile gives errors of order 1.
double tolerance(int64_t reduction) { return 2e-6 * static_cast<double>(reduction); }

struct Passes {
  Tensor y, gx, gw, gb;
};

// conv2d and its backward for a loss sum(y * r), in x's dtype.
Passes run(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& r, const Conv2dParams& p) {
  Tensor x = x0.detach().set_requires_grad(), w = w0.detach().set_requires_grad();
  Tensor b = b0.defined() ? b0.detach().set_requires_grad() : Tensor();
  Tensor y = conv2d(x, w, b, p);
  sum(mul(y, r)).backward();
  return {y, x.grad(), w.grad(), b.defined() ? b.grad() : Tensor()};
}

void check_against_float64(const WinoCase& c, const Passes& f32, const Passes& f64) {
  const int64_t OH = c.H + 2 * c.pad - 2, OW = c.W + 2 * c.pad - 2;
  CHECK(max_violation(f32.y.to(DType::F64), f64.y, 0) <= tolerance(c.C * 9));
  CHECK(max_violation(f32.gx.to(DType::F64), f64.gx, 0) <= tolerance(c.O * 9));
  CHECK(max_violation(f32.gw.to(DType::F64), f64.gw, 0) <= tolerance(c.N * OH * OW));
  CHECK(max_violation(f32.gb.to(DType::F64), f64.gb, 0) <= tolerance(c.N * OH * OW));
}

// Restores the OpenMP thread count a test changed.
struct ThreadCount {
  int saved = omp_get_max_threads();
  explicit ThreadCount(int n) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
};

}  // namespace

TEST_CASE("Winograd conv passes agree with float64 within reduction-scaled tolerances", "[conv][winograd]") {
  for (const auto& c : wino_cases()) {
    INFO(c.name);
    REQUIRE(cpu::winograd_pays(shape_of(c)));
    REQUIRE(cpu::winograd_pays(cpu::data_gradient_shape(shape_of(c))));
    REQUIRE(cpu::winograd_pays(shape_of(c), true));
    const Conv2dParams p = pad_params(c.pad);
    Tensor x = randu({c.N, c.C, c.H, c.W}, 70), w = randu({c.O, c.C, 3, 3}, 71), b = randu({c.O}, 72);
    Tensor r = randu({c.N, c.O, c.H + 2 * c.pad - 2, c.W + 2 * c.pad - 2}, 73);
    const Passes f64 = run(x, w, b, r, p);
    for (int threads : {1, 2}) {
      INFO("threads " << threads);
      ThreadCount tc(threads);
      check_against_float64(c, run(x.to(DType::F32), w.to(DType::F32), b.to(DType::F32), r.to(DType::F32), p), f64);
    }
  }
}

TEST_CASE("Winograd conv reads strided views of the input and a weight slice in place", "[conv][winograd]") {
  // x: a channel and column window of a larger tensor (rows of pitch W + 3, unit stride along
  // them, which the Winograd path requires); w: 34 of 40 output and 33 of 37 input channels of a
  // parent weight, whose gradient must land only in that region.
  const WinoCase c{"33 -> 34 of a larger parent, 9x7, pad 1", 3, 33, 9, 7, 34, 1};
  REQUIRE(cpu::winograd_pays(shape_of(c)));
  REQUIRE(cpu::winograd_pays(shape_of(c), true));
  const Conv2dParams p = pad_params(c.pad);
  Tensor big_x = randu({c.N, c.C + 2, c.H, c.W + 3}, 80, -1, 1, DType::F32);
  Tensor x = big_x.narrow(1, 2, c.C).narrow(3, 1, c.W);
  REQUIRE(x.stride(3) == 1);
  REQUIRE(x.stride(2) == c.W + 3);
  Tensor parent = randu({40, 37, 3, 3}, 81, -1, 1, DType::F32).set_requires_grad();
  Tensor w = parent.narrow(0, 0, c.O).narrow(1, 0, c.C);
  Tensor b = randu({c.O}, 82, -1, 1, DType::F32), r = randu({c.N, c.O, c.H, c.W}, 83, -1, 1, DType::F32);

  Tensor y = conv2d(x, w, b, p);
  sum(mul(y, r)).backward();
  const Passes f64 = run(x.to(DType::F64), w.to(DType::F64), b.to(DType::F64), r.to(DType::F64), p);
  CHECK(max_violation(y.to(DType::F64), f64.y, 0) <= tolerance(c.C * 9));
  Tensor g = parent.grad();
  REQUIRE(g.defined());
  CHECK(max_violation(g.narrow(0, 0, c.O).narrow(1, 0, c.C).to(DType::F64), f64.gw, 0) <= tolerance(c.N * c.H * c.W));
  CHECK(sum(abs(g)).item() == Approx(sum(abs(g.narrow(0, 0, c.O).narrow(1, 0, c.C))).item()));
  CHECK(sum(abs(g.narrow(0, c.O, 40 - c.O))).item() == 0.0);
  CHECK(sum(abs(g.narrow(1, c.C, 37 - c.C))).item() == 0.0);
}

TEST_CASE("Winograd conv gradients match float32 finite differences", "[conv][winograd]") {
  // L(x, w) = sum(conv(x, w) * r) is linear in x and in w, so (L(x + v) - L(x - v)) / 2 equals
  // <dL/dx, v> up to rounding for any step v: the backward passes are checked against the
  // forward alone, in float32, with steps of full size.
  for (const auto& c : wino_cases()) {
    INFO(c.name);
    REQUIRE(cpu::winograd_pays(shape_of(c), true));
    REQUIRE(cpu::winograd_pays(cpu::data_gradient_shape(shape_of(c))));
    const Conv2dParams p = pad_params(c.pad);
    const DType f = DType::F32;
    Tensor x = randu({c.N, c.C, c.H, c.W}, 90, -1, 1, f), w = randu({c.O, c.C, 3, 3}, 91, -1, 1, f);
    Tensor r = randu({c.N, c.O, c.H + 2 * c.pad - 2, c.W + 2 * c.pad - 2}, 92, -1, 1, f);
    const Passes an = run(x, w, Tensor(), r, p);
    const auto loss = [&](const Tensor& xx, const Tensor& ww) { return sum(mul(conv2d(xx, ww, {}, p), r)).item(); };
    Tensor vx = randu(x.shape(), 93, -1, 1, f), vw = randu(w.shape(), 94, -1, 1, f);
    const double fd_x = (loss(add(x, vx), w) - loss(sub(x, vx), w)) / 2;
    const double fd_w = (loss(x, add(w, vw)) - loss(x, sub(w, vw))) / 2;
    // Relative to the sum of the products' magnitudes (the sums themselves cancel).
    const double an_x = sum(mul(an.gx, vx)).item(), scale_x = sum(abs(mul(an.gx, vx))).item();
    const double an_w = sum(mul(an.gw, vw)).item(), scale_w = sum(abs(mul(an.gw, vw))).item();
    INFO("x: fd " << fd_x << " analytic " << an_x << " scale " << scale_x);
    INFO("w: fd " << fd_w << " analytic " << an_w << " scale " << scale_w);
    CHECK(std::abs(fd_x - an_x) <= 1e-5 * scale_x);
    CHECK(std::abs(fd_w - an_w) <= 1e-5 * scale_w);
  }
}

TEST_CASE("the Winograd path is chosen by channel counts and by how much of the map the tiles cover", "[conv][winograd]") {
  const auto shape = [](int64_t C, int64_t O, int64_t H) {
    return cpu::Winograd3x3{8, C, H, H, O, H, H, 1, 1, C * H * H, H * H, H};
  };
  CHECK(cpu::winograd_pays(shape(16, 16, 28)));
  CHECK_FALSE(cpu::winograd_pays(shape(16, 16, 28), true));  // the weight gradient wants 32
  CHECK(cpu::winograd_pays(shape(32, 64, 28), true));
  CHECK_FALSE(cpu::winograd_pays(shape(8, 64, 28)));
  CHECK_FALSE(cpu::winograd_pays(shape(64, 8, 28)));
  CHECK(cpu::winograd_pays(shape(512, 512, 4)));
  CHECK_FALSE(cpu::winograd_pays(shape(512, 512, 5)));  // four tiles for 25 outputs
  CHECK_FALSE(cpu::winograd_pays(shape(512, 512, 2)));
}
