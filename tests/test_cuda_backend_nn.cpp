// The CUDA backend's gemm, convolution, normalization and pooling primitives (engine/backend.h)
// against the CPU: each result is compared with today's engine ops run in float64 on the same
// input values (tests/cuda_nn_reference.h), values and gradients.
//
// Every device tensor is a view inside a larger device buffer whose other words hold a guard
// value; outputs start as NaN (overwritten outputs) or as random values (accumulated ones, which
// must end as start + reference). After each call the whole buffer is read back: the view must
// match, and every guard word must be untouched. So a missed element, a stray write, or a weight
// gradient leaking out of its channel slice W[:k_out, :k_in] into the rest of the parent fails.
//
// Layouts: contiguous, channels-last (NHWC strides), padded views (every dimension strided by
// more than its extent), channel slices of a larger weight, transposed and batch-broadcast
// (stride 0) matrices, odd sizes.
//
// Tolerances, |got - ref| <= a * max|ref| + r * |ref| per element, the reference in float64:
//   float32   a = r = 1e-5 (float32 accumulation over at most a few hundred terms)
//   bfloat16  a = r = 8e-3 (inputs exact in bfloat16; outputs rounded to bfloat16, 2^-9 relative,
//             and cuDNN's bfloat16 weight gradient before it is added into a float32 parent)
//   float64   a = r = 1e-12
// Without a CUDA device (real or emulated) every case WARNs "skipped: no CUDA device".
#include <catch2/catch.hpp>

#ifdef SLIMSSL_WITH_CUDA
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include "cuda_nn_reference.h"
#include "engine/cuda/cuda_backend.h"
#include "kernels/memory.h"

namespace {

using namespace slimssl;
namespace ref = cuda_nn_ref;

// The one place this file decides whether a device is present.
bool have_device() {
  if (kernels::device_count() > 0) return true;
  WARN("skipped: no CUDA device");
  return false;
}

cuda::CudaBackend& gpu() { return cuda::cuda_backend(0); }

// ---- tolerances ----------------------------------------------------------------------------------

struct Tol {
  double a, r;
};
Tol tol_for(DType dt) {
  switch (dt) {
    case DType::F64: return {1e-12, 1e-12};
    case DType::BF16: return {8e-3, 8e-3};
    default: return {1e-5, 1e-5};
  }
}

// Both NaN counts as equal (max pooling propagates NaN).
void expect_close(const std::vector<double>& got, const std::vector<double>& want, Tol tol, const std::string& what) {
  REQUIRE(got.size() == want.size());
  double scale = 0;
  for (double w : want)
    if (std::isfinite(w)) scale = std::max(scale, std::abs(w));
  int64_t bad = 0;
  std::ostringstream first;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool same_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (same_nan || std::abs(got[i] - want[i]) <= tol.a * scale + tol.r * std::abs(want[i])) continue;
    if (bad++ < 4) first << " [" << i << "] got " << got[i] << " want " << want[i] << ";";
  }
  INFO(what << ": " << bad << " of " << got.size() << " elements off (scale " << scale << "):" << first.str());
  CHECK(bad == 0);
}

std::vector<double> values_of(const Tensor& host) { return host.to_vector<double>(); }

// ---- data ----------------------------------------------------------------------------------------

// float64 values exactly representable in dt, uniform in [lo, hi).
Tensor data(const Shape& shape, uint64_t seed, DType dt, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(numel_of(shape));
  for (double& x : v) x = u(rng);
  return Tensor::from_vector(v, shape).to(dt).to(DType::F64);
}

// ---- device tensors inside guarded buffers -------------------------------------------------------

enum class Layout {
  Contiguous,
  ChannelsLast,  // 4-d: NHWC strides
  Padded,        // every dimension after the first strided as in a tensor one larger in each
  Slice,         // the [:a, :b] corner of a tensor 3 larger in dim 0 and 2 larger in dim 1
  Transposed,    // the last two dimensions column-major
  Gapped,        // every stride doubled: no unit stride anywhere
};

Shape strides_for(const Shape& s, Layout l) {
  const int64_t d = static_cast<int64_t>(s.size());
  switch (l) {
    case Layout::Contiguous: return contiguous_strides(s);
    case Layout::ChannelsLast: return {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};
    case Layout::Padded: {
      Shape bigger = s;
      for (int64_t i = 1; i < d; ++i) bigger[i] += 1;
      return contiguous_strides(bigger);
    }
    case Layout::Slice: {
      Shape bigger = s;
      bigger[0] += 3;
      if (d > 1) bigger[1] += 2;
      return contiguous_strides(bigger);
    }
    case Layout::Transposed: {
      Shape st = contiguous_strides(s);
      st[d - 2] = 1, st[d - 1] = s[d - 2];
      return st;
    }
    case Layout::Gapped: {
      Shape st = contiguous_strides(s);
      for (auto& x : st) x *= 2;
      return st;
    }
  }
  return {};
}

constexpr double kGuard = -4096.0;  // exact in every dtype
constexpr int64_t kLead = 32, kTail = 32;

// A view on the device between guard words.
struct DevTensor {
  Tensor buf;   // device, 1-d
  Tensor view;  // what the backend sees
  std::vector<bool> covered;

  // The view's values (logical order), after checking that every other word still holds the guard.
  std::vector<double> read(const std::string& what) const {
    Tensor host = buf.cpu();
    const std::vector<double> all = host.to_vector<double>();
    int64_t stray = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (!covered[i] && !(all[i] == kGuard)) ++stray;
    INFO(what << ": " << stray << " guard words overwritten");
    CHECK(stray == 0);
    return host.as_strided(view.shape(), view.strides(), view.offset()).to_vector<double>();
  }
};

// `init` (any host tensor) placed in `layout` as dtype dt.
DevTensor place(const Tensor& init, Layout layout, DType dt) {
  const Shape& shape = init.shape();
  const Shape st = strides_for(shape, layout);
  int64_t extent = 1;
  for (size_t i = 0; i < shape.size(); ++i) extent += (shape[i] - 1) * st[i];
  const int64_t total = kLead + extent + kTail;
  Tensor host = Tensor::full({total}, kGuard, dt);
  host.as_strided(shape, st, kLead).copy_(init);
  DevTensor d;
  d.covered.assign(total, false);
  const int64_t n = numel_of(shape);
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = kLead, rest = e;
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) off += (rest % shape[i]) * st[i], rest /= shape[i];
    d.covered[off] = true;
  }
  d.buf = host.to(Device::cuda(0));
  d.view = d.buf.as_strided(shape, st, kLead);
  return d;
}

// An output to be overwritten: starts as NaN.
DevTensor out_nan(const Shape& shape, Layout layout, DType dt) {
  return place(Tensor::full(shape, std::numeric_limits<double>::quiet_NaN(), DType::F64), layout, dt);
}

std::vector<double> plus(const Tensor& a, const Tensor& b) {
  std::vector<double> x = values_of(a), y = values_of(b);
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  return x;
}

// ---- gemm ----------------------------------------------------------------------------------------

struct GemmCase {
  const char* name;
  int64_t batch;  // 0: 2-d
  int64_t m, k, n;
  Layout la, lb, lc;
  bool a_broadcast, b_broadcast;
  double alpha, beta;
  DType ab, c;
};

}  // namespace

TEST_CASE("cuda nn: gemm against matmul (layouts, transposes, broadcast batches, dtypes)", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const GemmCase cases[] = {
      {"2-d contiguous", 0, 7, 13, 5, Layout::Contiguous, Layout::Contiguous, Layout::Contiguous, false, false, 1, 0, f32, f32},
      {"a transposed, c padded, alpha/beta", 0, 6, 9, 11, Layout::Transposed, Layout::Contiguous, Layout::Padded, false, false, 0.5, 2, f32, f32},
      {"b transposed", 0, 5, 8, 3, Layout::Contiguous, Layout::Transposed, Layout::Contiguous, false, false, 1, 1, f32, f32},
      {"both transposed", 0, 4, 6, 9, Layout::Transposed, Layout::Transposed, Layout::Contiguous, false, false, -1, 0, f32, f32},
      {"channel slices", 0, 5, 7, 6, Layout::Slice, Layout::Slice, Layout::Slice, false, false, 1, 0, f32, f32},
      {"no unit stride (packed)", 0, 5, 6, 4, Layout::Gapped, Layout::Gapped, Layout::Contiguous, false, false, 1, 0.5, f32, f32},
      {"batched, a broadcast, b transposed", 3, 4, 5, 6, Layout::Contiguous, Layout::Transposed, Layout::Contiguous, true, false, 1, 0, f32, f32},
      {"batched, b broadcast, c padded", 2, 3, 7, 5, Layout::Transposed, Layout::Contiguous, Layout::Padded, false, true, 2, 1, f32, f32},
      {"batched, broadcast gapped operand", 2, 3, 4, 5, Layout::Gapped, Layout::Contiguous, Layout::Contiguous, true, false, 1, 0, f32, f32},
      {"float64", 2, 5, 9, 4, Layout::Contiguous, Layout::Transposed, Layout::Contiguous, false, false, 1, 0.25, f64, f64},
      {"bfloat16 -> float32", 0, 9, 17, 7, Layout::Transposed, Layout::Contiguous, Layout::Contiguous, false, false, 1, 1, b16, f32},
      {"bfloat16 -> bfloat16, batched", 2, 6, 10, 5, Layout::Contiguous, Layout::Slice, Layout::Contiguous, false, true, 1, 0, b16, b16},
  };
  uint64_t seed = 100;
  for (const GemmCase& g : cases) {
    SECTION(g.name) {
      const int64_t B = g.batch == 0 ? 1 : g.batch;
      auto mat = [&](int64_t r, int64_t c, bool broadcast) {
        return g.batch == 0 ? Shape{r, c} : Shape{broadcast ? 1 : B, r, c};
      };
      const Tensor a = data(mat(g.m, g.k, g.a_broadcast), ++seed, g.ab), b = data(mat(g.k, g.n, g.b_broadcast), ++seed, g.ab);
      const Tensor c0 = data(mat(g.m, g.n, false), ++seed, g.c);
      DevTensor da = place(a, g.la, g.ab), db = place(b, g.lb, g.ab), dc = place(c0, g.lc, g.c);
      Tensor va = da.view, vb = db.view;
      if (g.a_broadcast) va = va.expand({B, g.m, g.k});
      if (g.b_broadcast) vb = vb.expand({B, g.k, g.n});
      gpu().gemm(va, vb, dc.view, g.alpha, g.beta);
      std::vector<double> want = values_of(ref::matmul(a, b)), c0v = values_of(c0);
      for (size_t i = 0; i < want.size(); ++i) want[i] = g.alpha * want[i] + g.beta * c0v[i];
      Tol t = tol_for(g.c == b16 ? b16 : g.ab);
      if (g.ab == b16 && g.c == f32) t = tol_for(f32);  // exact products, float32 accumulation and output
      expect_close(dc.read("c"), want, t, std::string("gemm ") + g.name);
    }
  }
}

namespace {

// ---- convolution ---------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, O, kh, kw;
  ref::ConvSpec p;
  Layout lx, ly, lw;  // activations (x and dx; y and gy) and weight (dw lands in the same place)
  DType act, wt;
  bool bias;
};

Conv2dParams params_of(const ref::ConvSpec& s) {
  return {s.stride_h, s.stride_w, s.pad_h, s.pad_w, s.dil_h, s.dil_w, s.groups};
}

void check_conv(const ConvCase& c, uint64_t seed) {
  const int64_t OH = (c.H + 2 * c.p.pad_h - c.p.dil_h * (c.kh - 1) - 1) / c.p.stride_h + 1;
  const int64_t OW = (c.W + 2 * c.p.pad_w - c.p.dil_w * (c.kw - 1) - 1) / c.p.stride_w + 1;
  const Shape xs{c.N, c.C, c.H, c.W}, ws{c.O, c.C / c.p.groups, c.kh, c.kw}, ys{c.N, c.O, OH, OW};
  // Weights exact in the activations' dtype even when stored as float32 master weights: every
  // path multiplies in the activations' dtype.
  const Tensor x = data(xs, seed, c.act), w = data(ws, seed + 1, c.act), gy = data(ys, seed + 2, c.act);
  const Tensor bias = c.bias ? data({c.O}, seed + 3, c.act) : Tensor();
  const Tensor dw0 = data(ws, seed + 4, c.wt);
  const ref::Result r = ref::conv2d(x, w, bias, c.p, gy);
  const Tol t = tol_for(c.act);
  const Conv2dParams p = params_of(c.p);

  DevTensor dx_ = place(x, c.lx, c.act), dw_ = place(w, c.lw, c.wt), dgy = place(gy, c.ly, c.act);
  DevTensor dy = out_nan(ys, c.ly, c.act);
  DevTensor dbias = c.bias ? place(bias, Layout::Padded, c.wt) : DevTensor{};
  gpu().conv2d(dx_.view, dw_.view, dbias.view, p, dy.view);
  expect_close(dy.read("y"), values_of(r.y), t, std::string(c.name) + ": y");

  DevTensor ddx = out_nan(xs, c.lx, c.act);
  gpu().conv2d_backward_data(dgy.view, dw_.view, p, ddx.view);
  expect_close(ddx.read("dx"), values_of(r.dx), t, std::string(c.name) + ": dx");

  DevTensor ddw = place(dw0, c.lw, c.wt);  // accumulated into
  gpu().conv2d_backward_weight(dx_.view, dgy.view, p, ddw.view);
  expect_close(ddw.read("dw"), plus(dw0, r.dw), t, std::string(c.name) + ": dw += gradient");
}

}  // namespace

TEST_CASE("cuda nn: conv2d forward, backward-data, backward-weight (sliced kernel and cuDNN paths)", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const Layout C = Layout::Contiguous, NHWC = Layout::ChannelsLast, P = Layout::Padded, S = Layout::Slice;
  const ConvCase cases[] = {
      // The sliced kernel: groups 1, no dilation, square stride/pad, float32 weight, contiguous NCHW.
      {"sliced: 3x3 pad 1, weight slice, bias", 2, 3, 5, 6, 4, 3, 3, {1, 1, 1, 1, 1, 1, 1}, C, C, S, f32, f32, true},
      {"sliced: stride 2, odd sizes", 2, 5, 7, 7, 3, 3, 3, {2, 2, 1, 1, 1, 1, 1}, C, C, S, f32, f32, false},
      {"sliced: 1x1, contiguous weight", 3, 4, 3, 5, 6, 1, 1, {1, 1, 0, 0, 1, 1, 1}, C, C, C, f32, f32, true},
      {"sliced: bfloat16 activations, float32 master weight", 2, 4, 6, 5, 5, 3, 3, {1, 1, 1, 1, 1, 1, 1}, C, C, S, b16, f32, true},
      // cuDNN: what the sliced kernel does not cover.
      {"cuDNN: groups 2, weight slice", 2, 4, 5, 5, 6, 3, 3, {1, 1, 1, 1, 1, 1, 2}, C, C, S, f32, f32, true},
      {"cuDNN: depthwise 3x3 stride 2", 2, 4, 7, 6, 4, 3, 3, {2, 2, 1, 1, 1, 1, 4}, C, C, C, f32, f32, false},
      {"cuDNN: dilation, rectangular stride and pad", 1, 3, 8, 7, 2, 3, 2, {2, 1, 1, 2, 2, 1, 1}, C, C, S, f32, f32, true},
      {"cuDNN: channels-last activations, weight slice", 2, 3, 5, 4, 4, 3, 3, {1, 1, 1, 1, 1, 1, 1}, NHWC, NHWC, S, f32, f32, true},
      {"cuDNN: padded views (packed copies)", 2, 3, 4, 5, 2, 3, 3, {1, 1, 1, 1, 1, 1, 1}, P, P, P, f32, f32, false},
      {"cuDNN: channels-last x, NCHW y", 1, 4, 4, 4, 4, 3, 3, {1, 1, 1, 1, 1, 1, 2}, NHWC, C, C, f32, f32, false},
      {"cuDNN: bfloat16, bfloat16 weights, channels-last, depthwise", 2, 4, 5, 5, 4, 3, 3, {1, 1, 1, 1, 1, 1, 4}, NHWC, NHWC, C, b16, b16, true},
      {"cuDNN: bfloat16 with float32 weight slice, groups 2", 1, 4, 5, 6, 4, 3, 3, {1, 1, 0, 1, 1, 1, 2}, C, C, S, b16, f32, false},
      {"cuDNN: float64, groups, dilation", 2, 4, 6, 6, 2, 3, 3, {1, 2, 2, 1, 1, 2, 2}, C, P, S, f64, f64, true},
  };
  uint64_t seed = 500;
  for (const ConvCase& c : cases) {
    seed += 10;
    SECTION(c.name) { check_conv(c, seed); }
  }
}

namespace {

// ---- batch norm ----------------------------------------------------------------------------------

struct BnCase {
  const char* name;
  Shape shape;  // [N, C] or [N, C, H, W]
  Layout lx;
  DType dt;
  bool training, affine, want_dx;
};

void check_batch_norm(const BnCase& c, uint64_t seed) {
  const int64_t C = c.shape[1];
  const double eps = 1e-5;
  const DType pt = c.dt == DType::F64 ? DType::F64 : DType::F32;
  const Tensor x = data(c.shape, seed, c.dt, -1, 3), gy = data(c.shape, seed + 1, c.dt);
  const Tensor w = c.affine ? data({C}, seed + 2, pt, 0.5, 1.5) : Tensor(), b = c.affine ? data({C}, seed + 3, pt) : Tensor();
  // Eval normalizes with running statistics that are not the batch's.
  const Tensor rm = data({C}, seed + 4, pt), rv = data({C}, seed + 5, pt, 0.5, 2);
  const Tensor mean = c.training ? ref::channel_mean(x) : rm, var = c.training ? ref::channel_var(x) : rv;
  std::vector<double> invstd = values_of(var);
  for (double& v : invstd) v = 1 / std::sqrt(v + eps);
  const ref::Result r = ref::batch_norm(x, w, b, c.training, rm, rv, eps, gy);
  const Tol t = tol_for(c.dt), tp = tol_for(pt);
  const std::string name = c.name;

  DevTensor dx_ = place(x, c.lx, c.dt), dgy = place(gy, c.lx, c.dt);
  if (c.training) {
    DevTensor dmean = out_nan({C}, Layout::Gapped, pt), dvar = out_nan({C}, Layout::Gapped, pt);
    gpu().batch_norm_stats(dx_.view, dmean.view, dvar.view);
    expect_close(dmean.read("mean"), values_of(mean), tp, name + ": mean");
    expect_close(dvar.read("var"), values_of(var), tp, name + ": var");
  }
  DevTensor dm = place(mean, Layout::Contiguous, pt), dis = place(Tensor::from_vector(invstd, {C}), Layout::Gapped, pt);
  DevTensor dw = c.affine ? place(w, Layout::Gapped, pt) : DevTensor{}, db = c.affine ? place(b, Layout::Contiguous, pt) : DevTensor{};
  DevTensor dy = out_nan(c.shape, c.lx, c.dt);
  gpu().batch_norm_forward(dx_.view, dm.view, dis.view, dw.view, db.view, dy.view);
  expect_close(dy.read("y"), values_of(r.y), t, name + ": y");

  DevTensor ddx = c.want_dx ? out_nan(c.shape, c.lx == Layout::ChannelsLast ? Layout::Contiguous : c.lx, c.dt) : DevTensor{};
  DevTensor ddw = c.affine ? out_nan({C}, Layout::Gapped, pt) : DevTensor{}, ddb = c.affine ? out_nan({C}, Layout::Contiguous, pt) : DevTensor{};
  gpu().batch_norm_backward(dgy.view, dx_.view, dm.view, dis.view, dw.view, c.training, ddx.view, ddw.view, ddb.view);
  if (c.want_dx) expect_close(ddx.read("dx"), values_of(r.dx), t, name + ": dx");
  if (c.affine) {
    expect_close(ddw.read("dw"), values_of(r.dw), tp, name + ": dw");
    expect_close(ddb.read("db"), values_of(r.db), tp, name + ": db");
  }
}

}  // namespace

TEST_CASE("cuda nn: batch norm statistics, forward and backward (training and eval)", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const Layout C = Layout::Contiguous, NHWC = Layout::ChannelsLast, P = Layout::Padded, T = Layout::Transposed;
  const BnCase cases[] = {
      {"NCHW, training", {3, 4, 5, 3}, C, f32, true, true, true},
      {"NCHW, eval", {2, 3, 4, 4}, C, f32, false, true, true},
      {"channels-last, training", {2, 5, 3, 4}, NHWC, f32, true, true, true},
      {"padded view, training, no affine", {2, 3, 3, 5}, P, f32, true, false, true},
      {"[N, C], training", {9, 6}, C, f32, true, true, true},
      {"[N, C] transposed, eval, gradients of the affine only", {7, 5}, T, f32, false, true, false},
      {"NCHW, several row splits per channel", {2, 3, 33, 33}, C, f32, true, true, true},
      {"channels-last, several row splits, 40 channels", {3, 40, 10, 10}, NHWC, f32, true, true, true},
      {"bfloat16, channels-last, training", {2, 6, 4, 3}, NHWC, b16, true, true, true},
      {"bfloat16, NCHW, eval", {2, 3, 4, 5}, C, b16, false, true, true},
      {"float64, padded, training", {3, 4, 3, 3}, P, f64, true, true, true},
  };
  uint64_t seed = 900;
  for (const BnCase& c : cases) {
    seed += 10;
    SECTION(c.name) { check_batch_norm(c, seed); }
  }
}

namespace {

// ---- layer norm ----------------------------------------------------------------------------------

struct LnCase {
  const char* name;
  int64_t rows, cols;
  Layout lx;
  DType dt;
  bool affine;
};

void check_layer_norm(const LnCase& c, uint64_t seed) {
  const double eps = 1e-5;
  const DType pt = c.dt == DType::F64 ? DType::F64 : DType::F32;
  const Shape shape{c.rows, c.cols};
  const Tensor x = data(shape, seed, c.dt, -2, 2), gy = data(shape, seed + 1, c.dt);
  const Tensor w = c.affine ? data({c.cols}, seed + 2, pt, 0.5, 1.5) : Tensor();
  const Tensor b = c.affine ? data({c.cols}, seed + 3, pt) : Tensor();
  const ref::Result r = ref::layer_norm(x, w, b, eps, gy);
  const Tol t = tol_for(c.dt), tp = tol_for(pt);
  const std::string name = c.name;

  DevTensor dx_ = place(x, c.lx, c.dt), dgy = place(gy, c.lx, c.dt);
  DevTensor dw = c.affine ? place(w, Layout::Gapped, pt) : DevTensor{}, db = c.affine ? place(b, Layout::Contiguous, pt) : DevTensor{};
  DevTensor dy = out_nan(shape, c.lx, c.dt), dm = out_nan({c.rows}, Layout::Gapped, pt), dis = out_nan({c.rows}, Layout::Contiguous, pt);
  gpu().layer_norm_forward(dx_.view, dw.view, db.view, eps, dy.view, dm.view, dis.view);
  expect_close(dy.read("y"), values_of(r.y), t, name + ": y");
  expect_close(dm.read("mean"), values_of(ref::row_mean(x)), tp, name + ": mean");
  expect_close(dis.read("invstd"), values_of(ref::row_invstd(x, eps)), tp, name + ": invstd");

  DevTensor ddx = out_nan(shape, c.lx, c.dt);
  DevTensor ddw = c.affine ? out_nan({c.cols}, Layout::Gapped, pt) : DevTensor{}, ddb = c.affine ? out_nan({c.cols}, Layout::Contiguous, pt) : DevTensor{};
  gpu().layer_norm_backward(dgy.view, dx_.view, dm.view, dis.view, dw.view, ddx.view, ddw.view, ddb.view);
  expect_close(ddx.read("dx"), values_of(r.dx), t, name + ": dx");
  if (c.affine) {
    expect_close(ddw.read("dw"), values_of(r.dw), tp, name + ": dw");
    expect_close(ddb.read("db"), values_of(r.db), tp, name + ": db");
  }
}

}  // namespace

TEST_CASE("cuda nn: layer norm forward and backward", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const LnCase cases[] = {
      {"small rows", 5, 7, Layout::Contiguous, f32, true},
      {"rows longer than the block, no affine", 3, 300, Layout::Contiguous, f32, false},
      {"padded rows, several row splits for dw/db", 70, 33, Layout::Padded, f32, true},
      {"bfloat16", 6, 40, Layout::Contiguous, b16, true},
      {"float64", 4, 19, Layout::Padded, f64, true},
  };
  uint64_t seed = 1300;
  for (const LnCase& c : cases) {
    seed += 10;
    SECTION(c.name) { check_layer_norm(c, seed); }
  }
}

namespace {

// ---- pooling -------------------------------------------------------------------------------------

struct PoolCase {
  const char* name;
  Shape shape;
  bool adaptive;
  int64_t kernel, stride, pad;  // fixed windows
  int64_t oh, ow;               // adaptive output
  Layout lx;
  DType dt;
};

int64_t out_extent(const PoolCase& c, int64_t in, int64_t adaptive_out) {
  return c.adaptive ? adaptive_out : (in + 2 * c.pad - c.kernel) / c.stride + 1;
}

// x with small integers (many ties inside a window) when `ties`, and NaN planted when `nans`.
Tensor pool_input(const PoolCase& c, uint64_t seed, bool ties, bool nans) {
  Tensor x = data(c.shape, seed, c.dt, -3, 3);
  if (!ties && !nans) return x;
  std::vector<double> v = values_of(x);
  for (size_t i = 0; i < v.size(); ++i) {
    if (ties) v[i] = std::round(v[i]);
    if (nans && i % 7 == 3) v[i] = std::numeric_limits<double>::quiet_NaN();
  }
  return Tensor::from_vector(v, c.shape);
}

void check_max_pool(const PoolCase& c, uint64_t seed, bool ties, bool nans) {
  const Shape ys{c.shape[0], c.shape[1], out_extent(c, c.shape[2], 0), out_extent(c, c.shape[3], 0)};
  const Tensor x = pool_input(c, seed, ties, nans), gy = data(ys, seed + 1, c.dt), dx0 = data(c.shape, seed + 2, c.dt);
  const ref::Result r = ref::max_pool2d(x, c.kernel, c.stride, c.pad, gy);
  const Tol t = tol_for(c.dt);
  const std::string name = c.name;

  DevTensor dx_ = place(x, c.lx, c.dt), dy = out_nan(ys, c.lx, c.dt);
  DevTensor darg = place(Tensor::full(ys, -7, DType::I64), Layout::Padded, DType::I64);
  gpu().max_pool2d(dx_.view, c.kernel, c.stride, c.pad, dy.view, darg.view);
  const std::vector<double> y = dy.read("y"), arg = darg.read("argmax"), xv = values_of(x);
  expect_close(y, values_of(r.y), t, name + ": y");
  // Each argmax points at its output's value inside its own plane.
  const int64_t plane = c.shape[2] * c.shape[3], out_plane = ys[2] * ys[3];
  int64_t wrong = 0;
  for (size_t o = 0; o < y.size(); ++o) {
    const double a = arg[o], v = xv[static_cast<int64_t>(o) / out_plane * plane + static_cast<int64_t>(a)];
    if (a < 0 || a >= plane || !(v == y[o] || (std::isnan(v) && std::isnan(y[o])))) ++wrong;
  }
  INFO(name << ": " << wrong << " argmax entries do not point at their maximum");
  CHECK(wrong == 0);

  // dx accumulates; the routing (first maximum, NaN first) must be the reference's.
  DevTensor dgy = place(gy, c.lx, c.dt), ddx = place(dx0, c.lx, c.dt);
  gpu().max_pool2d_backward(dgy.view, darg.view, ddx.view);
  expect_close(ddx.read("dx"), plus(dx0, r.dx), t, name + ": dx += routed gradient");
}

void check_avg_pool(const PoolCase& c, uint64_t seed) {
  const Shape ys{c.shape[0], c.shape[1], out_extent(c, c.shape[2], c.oh), out_extent(c, c.shape[3], c.ow)};
  const Tensor x = data(c.shape, seed, c.dt), gy = data(ys, seed + 1, c.dt), dx0 = data(c.shape, seed + 2, c.dt);
  const ref::Result r = c.adaptive ? ref::adaptive_avg_pool2d(x, c.oh, c.ow, gy)
                                   : ref::avg_pool2d(x, c.kernel, c.stride, c.pad, gy);
  PoolWindows win;
  if (c.adaptive) win.kind = PoolWindows::Kind::Adaptive;
  else win.kernel = c.kernel, win.stride = c.stride, win.pad = c.pad;
  const Tol t = tol_for(c.dt);
  const std::string name = c.name;

  DevTensor dx_ = place(x, c.lx, c.dt), dy = out_nan(ys, c.lx, c.dt);
  gpu().avg_pool2d(dx_.view, win, dy.view);
  expect_close(dy.read("y"), values_of(r.y), t, name + ": y");
  DevTensor dgy = place(gy, c.lx, c.dt), ddx = place(dx0, c.lx == Layout::Padded ? Layout::ChannelsLast : c.lx, c.dt);
  gpu().avg_pool2d_backward(dgy.view, win, ddx.view);
  expect_close(ddx.read("dx"), plus(dx0, r.dx), t, name + ": dx += spread gradient");
}

}  // namespace

TEST_CASE("cuda nn: max pooling, values, argmax and routed gradients (ties, NaN)", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const PoolCase cases[] = {
      {"3x3 stride 2 pad 1, odd sizes", {2, 3, 7, 6}, false, 3, 2, 1, 0, 0, Layout::Contiguous, f32},
      {"2x2 stride 2, channels-last", {2, 4, 6, 5}, false, 2, 2, 0, 0, 0, Layout::ChannelsLast, f32},
      {"3x3 stride 1 pad 1, padded view", {1, 3, 5, 5}, false, 3, 1, 1, 0, 0, Layout::Padded, f32},
      {"bfloat16", {2, 3, 5, 5}, false, 3, 2, 1, 0, 0, Layout::Contiguous, b16},
      {"float64", {1, 2, 5, 6}, false, 2, 1, 0, 0, 0, Layout::ChannelsLast, f64},
  };
  uint64_t seed = 1700;
  for (const PoolCase& c : cases) {
    seed += 10;
    SECTION(c.name) { check_max_pool(c, seed, false, false); }
    SECTION(std::string(c.name) + ", ties") { check_max_pool(c, seed, true, false); }
  }
  SECTION("NaN wins its windows") { check_max_pool(cases[0], 1799, false, true); }
}

TEST_CASE("cuda nn: average pooling, fixed and adaptive windows, values and gradients", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const PoolCase cases[] = {
      {"fixed 3x3 stride 2 pad 1", {2, 3, 7, 6}, false, 3, 2, 1, 0, 0, Layout::Contiguous, f32},
      {"fixed 2x2 stride 2, odd width, channels-last", {2, 4, 6, 5}, false, 2, 2, 0, 0, 0, Layout::ChannelsLast, f32},
      {"fixed 3x3 stride 1, padded view", {1, 3, 5, 4}, false, 3, 1, 0, 0, 0, Layout::Padded, f32},
      {"adaptive 7x5 -> 3x2", {2, 3, 7, 5}, true, 0, 0, 0, 3, 2, Layout::Contiguous, f32},
      {"adaptive global 5x5 -> 1x1, channels-last", {2, 6, 5, 5}, true, 0, 0, 0, 1, 1, Layout::ChannelsLast, f32},
      {"adaptive 3x4 -> 5x6 (overlapping bins), padded view", {1, 2, 3, 4}, true, 0, 0, 0, 5, 6, Layout::Padded, f32},
      {"bfloat16 fixed 3x3 stride 2 pad 1", {1, 3, 6, 7}, false, 3, 2, 1, 0, 0, Layout::Contiguous, b16},
      {"float64 adaptive 6x7 -> 4x3", {2, 2, 6, 7}, true, 0, 0, 0, 4, 3, Layout::ChannelsLast, f64},
  };
  uint64_t seed = 2100;
  for (const PoolCase& c : cases) {
    seed += 10;
    SECTION(c.name) { check_avg_pool(c, seed); }
  }
}

TEST_CASE("cuda nn: context: library handles made on first use, carved workspaces, staged copies", "[cuda]") {
  if (!have_device()) return;
  cuda::CudaContext ctx(0);
  CHECK_FALSE(ctx.has_blas());
  CHECK_FALSE(ctx.has_dnn());
  CHECK(ctx.blas() != nullptr);
  CHECK(ctx.dnn() != nullptr);
  CHECK(ctx.has_blas());
  CHECK(ctx.has_dnn());
  CHECK(ctx.blas() == ctx.blas());

  const std::vector<void*> parts = ctx.workspaces({100, 0, 3000, 1});
  REQUIRE(parts.size() == 4);
  for (void* p : parts) CHECK(reinterpret_cast<uintptr_t>(p) % 256 == 0);
  const auto gap = [&](int i) { return static_cast<char*>(parts[i + 1]) - static_cast<char*>(parts[i]); };
  CHECK(gap(0) >= 100);
  CHECK(gap(1) >= 0);
  CHECK(gap(2) >= 3000);

  // More than two 4 MiB staging chunks, and an odd tail.
  const size_t n = (size_t{9} << 20) + 123;
  std::vector<unsigned char> src(n), back(n, 0);
  for (size_t i = 0; i < n; ++i) src[i] = static_cast<unsigned char>(i * 131 + (i >> 13));
  void* dev = kernels::device_alloc(n, 0);
  ctx.upload(dev, src.data(), n);
  const std::vector<unsigned char> sent = src;
  std::fill(src.begin(), src.end(), 0);  // the source may be reused as soon as upload returns
  ctx.download(back.data(), dev, n);
  kernels::device_free(dev, 0);
  CHECK(back == sent);
}

TEST_CASE("cuda nn: bad arguments are errors naming the primitive", "[cuda]") {
  if (!have_device()) return;
  const Device d = Device::cuda(0);
  const Tensor a = Tensor::zeros({3, 4}, DType::F32, d), b = Tensor::zeros({5, 2}, DType::F32, d);
  REQUIRE_THROWS_WITH(gpu().gemm(a, b, Tensor::zeros({3, 2}, DType::F32, d), 1, 0),
                      Catch::Contains("gemm") && Catch::Contains("do not match"));
  REQUIRE_THROWS_WITH(gpu().gemm(a, Tensor::zeros({4, 2}, DType::F32), Tensor::zeros({3, 2}, DType::F32, d), 1, 0),
                      Catch::Contains("gemm") && Catch::Contains("cuda:0"));
  const Tensor x = Tensor::zeros({1, 2, 5, 5}, DType::F32, d), y = Tensor::zeros({1, 3, 3, 3}, DType::F32, d);
  REQUIRE_THROWS_WITH(gpu().conv2d(x, Tensor::zeros({3, 2, 3, 3}, DType::BF16, d), {}, {}, y),
                      Catch::Contains("conv2d") && Catch::Contains("bfloat16 weight"));
  REQUIRE_THROWS_WITH(gpu().conv2d(x, Tensor::zeros({3, 2, 2, 2}, DType::F32, d), {}, {}, y),
                      Catch::Contains("conv2d") && Catch::Contains("does not match"));
  REQUIRE_THROWS_WITH(gpu().batch_norm_stats(x, Tensor::zeros({2}, DType::F64, d), Tensor::zeros({2}, DType::F32, d)),
                      Catch::Contains("batch_norm_stats") && Catch::Contains("float32"));
  REQUIRE_THROWS_WITH(gpu().layer_norm_forward(x, {}, {}, 1e-5, x, Tensor::zeros({1}, DType::F32, d),
                                               Tensor::zeros({1}, DType::F32, d)),
                      Catch::Contains("layer_norm_forward") && Catch::Contains("[rows, cols]"));
  REQUIRE_THROWS_WITH(gpu().max_pool2d(x, 3, 2, 1, Tensor::zeros({1, 2, 2, 2}, DType::F32, d),
                                       Tensor::zeros({1, 2, 2, 2}, DType::I64, d)),
                      Catch::Contains("max_pool2d") && Catch::Contains("does not match"));
}
#endif  // SLIMSSL_WITH_CUDA
