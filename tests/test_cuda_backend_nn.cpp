// The CUDA backend's gemm, convolution, normalization and pooling primitives (engine/backend.h),
// held to the CPU on a backend axis: every case runs the same primitive on the same input values in
// the same layouts on the CUDA backend and on the CPU backend, and compares each with a reference
// computed by the engine's ops in float64 (values, and gradients through backward()), and the two
// backends with each other.
//
// Every tensor is a view inside a larger buffer whose other words hold a guard value; outputs
// start as NaN (overwritten outputs) or as random values (accumulated ones, which must end as
// start + gradient). After each call the whole buffer is read back: the view must match and every
// guard word must be untouched, so a missed element, a stray write, or a weight gradient leaking
// out of its channel slice W[:k_out, :k_in] into the rest of the parent fails.
//
// Layouts: contiguous, channels-last (NHWC strides), padded views (every dimension strided by more
// than its extent), channel slices of a larger tensor, transposed and batch-broadcast (stride 0)
// matrices, every stride doubled, odd sizes.
//
// Tolerances, |got - want| <= a * max|want| + r * |want| per element:
//   float32   a = r = 1e-5 (float32 accumulation over at most a few hundred terms)
//   bfloat16  a = r = 8e-3 (inputs exact in bfloat16; outputs rounded to bfloat16, 2^-9 relative,
//             and cuDNN's bfloat16 weight gradient before it is added into a float32 parent)
//   float64   a = r = 1e-12
// Without a CUDA device (real or emulated) every case WARNs "skipped: no CUDA device".
#include <catch2/catch.hpp>
#include "gpu_gate.h"

#ifdef SLIMSSL_WITH_CUDA
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include "engine/cuda/cuda_backend.h"
#include "engine/ops.h"
#include "kernels/memory.h"

namespace {

using namespace slimssl;

// The one place this file decides whether a device is present.
bool have_device() { return slimssl::testing::gpu_or_skip(); }

cuda::CudaBackend& gpu() { return cuda::cuda_backend(0); }

// ---- the backend axis ----------------------------------------------------------------------------

struct Side {
  Backend& backend;
  Device device;
  const char* name;
};
std::vector<Side> sides() { return {{gpu(), Device::cuda(0), "cuda"}, {backend_for(Device::cpu()), Device::cpu(), "cpu"}}; }

// ---- tolerances and comparison -------------------------------------------------------------------

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
constexpr Tol kExact{0, 0};

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

// One named output of a case: the reference's values and the tolerance they are held to.
struct Out {
  std::string name;
  std::vector<double> values;
  Tol tol;
};
using Outs = std::vector<Out>;

// Runs `run` on each backend; each output against the reference, then CUDA against the CPU.
void compare_backends(const std::string& what, const Outs& want, const std::function<Outs(const Side&)>& run) {
  std::vector<Outs> got;
  for (const Side& s : sides()) {
    got.push_back(run(s));
    REQUIRE(got.back().size() == want.size());
    for (size_t i = 0; i < want.size(); ++i)
      expect_close(got.back()[i].values, want[i].values, want[i].tol,
                   what + " [" + s.name + "]: " + want[i].name);
  }
  for (size_t i = 0; i < want.size(); ++i)
    expect_close(got[0][i].values, got[1][i].values, want[i].tol, what + " [cuda vs cpu]: " + want[i].name);
}

std::vector<double> values_of(const Tensor& t) { return t.defined() ? t.to_vector<double>() : std::vector<double>{}; }

std::vector<double> plus(const Tensor& a, const Tensor& b) {
  std::vector<double> x = values_of(a), y = values_of(b);
  for (size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  return x;
}

// ---- data ----------------------------------------------------------------------------------------

// float64 values exactly representable in dt, uniform in [lo, hi).
Tensor data(const Shape& shape, uint64_t seed, DType dt, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(numel_of(shape));
  for (double& x : v) x = u(rng);
  return Tensor::from_vector(v, shape).to(dt).to(DType::F64);
}

// ---- tensors inside guarded buffers --------------------------------------------------------------

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
  Shape bigger = s, st = contiguous_strides(s);
  switch (l) {
    case Layout::Contiguous: return st;
    case Layout::ChannelsLast: return {s[1] * s[2] * s[3], 1, s[3] * s[1], s[1]};
    case Layout::Padded:
      for (int64_t i = 1; i < d; ++i) bigger[i] += 1;
      return contiguous_strides(bigger);
    case Layout::Slice:
      bigger[0] += 3;
      if (d > 1) bigger[1] += 2;
      return contiguous_strides(bigger);
    case Layout::Transposed:
      st[d - 2] = 1, st[d - 1] = s[d - 2];
      return st;
    case Layout::Gapped:
      for (auto& x : st) x *= 2;
      return st;
  }
  return st;
}

constexpr double kGuard = -4096.0;  // exact in every dtype
constexpr int64_t kLead = 32, kTail = 32;

// A view between guard words, on the CPU or the device. Bytes move to and from the device through
// the CUDA context's staged copies (independent of the backend's copy primitives).
struct Placed {
  Tensor buf;   // 1-d, on the side's device
  Tensor view;  // what the backend sees
  std::vector<bool> covered;

  // The view's values (logical order), after checking that every other word still holds the guard.
  std::vector<double> read(const std::string& what) const {
    Tensor host = buf;
    if (buf.device().is_cuda()) {
      host = Tensor::empty(buf.shape(), buf.dtype());
      gpu().context().download(host.raw(), buf.raw(), buf.numel() * buf.itemsize());
    }
    const std::vector<double> all = host.to_vector<double>();
    int64_t stray = 0;
    for (size_t i = 0; i < all.size(); ++i)
      if (!covered[i] && !(all[i] == kGuard)) ++stray;
    INFO(what << ": " << stray << " guard words overwritten");
    CHECK(stray == 0);
    return host.as_strided(view.shape(), view.strides(), view.offset()).to_vector<double>();
  }
};

// `init` (any host tensor) placed in `layout` as dtype dt on `dev`.
Placed place(const Tensor& init, Layout layout, DType dt, Device dev) {
  const Shape& shape = init.shape();
  const Shape st = strides_for(shape, layout);
  int64_t extent = 1;
  for (size_t i = 0; i < shape.size(); ++i) extent += (shape[i] - 1) * st[i];
  const int64_t total = kLead + extent + kTail;
  Tensor host = Tensor::full({total}, kGuard, dt);
  host.as_strided(shape, st, kLead).copy_(init);
  Placed p;
  p.covered.assign(total, false);
  for (int64_t e = 0; e < numel_of(shape); ++e) {
    int64_t off = kLead, rest = e;
    for (int64_t i = static_cast<int64_t>(shape.size()) - 1; i >= 0; --i) off += (rest % shape[i]) * st[i], rest /= shape[i];
    p.covered[off] = true;
  }
  p.buf = host;
  if (dev.is_cuda()) {
    p.buf = Tensor::empty({total}, dt, dev);
    gpu().context().upload(p.buf.raw(), host.raw(), total * host.itemsize());
  }
  p.view = p.buf.as_strided(shape, st, kLead);
  return p;
}
Placed place(const Tensor& init, Layout layout, DType dt, const Side& s) { return place(init, layout, dt, s.device); }

// An output to be overwritten: starts as NaN.
Placed out_nan(const Shape& shape, Layout layout, DType dt, const Side& s) {
  return place(Tensor::full(shape, std::numeric_limits<double>::quiet_NaN(), DType::F64), layout, dt, s);
}

// ---- references: the engine's ops in float64 -----------------------------------------------------

// The op's output and the gradients of sum(y * gy) with respect to its inputs (undefined where an
// input is undefined).
struct Ref {
  Tensor y, dx, dw, db;
};

Ref reference(const std::vector<Tensor>& inputs, const Tensor& gy,
              const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) {
    leaves.push_back(t.defined() ? t.detach().clone().detach() : Tensor());
    if (t.defined()) leaves.back().set_requires_grad(true);
  }
  Tensor y = f(leaves);
  y.backward(gy);
  auto grad = [&](size_t i) { return i < leaves.size() && leaves[i].defined() ? leaves[i].grad() : Tensor(); };
  return {y.detach(), grad(0), grad(1), grad(2)};
}

std::vector<int64_t> all_but_channel(const Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

// ---- gemm ----------------------------------------------------------------------------------------

struct GemmCase {
  const char* name;
  int64_t batch;  // 0: 2-d
  int64_t m, k, n;
  Layout la, lb, lc;
  bool a_broadcast, b_broadcast;  // over the batch (batch stride 0)
  double alpha, beta;
  DType ab, c;
  bool a_rows_repeat = false;  // a's rows one repeated row (row stride 0: cuBLAS cannot address it)
};

void check_gemm(const GemmCase& g, uint64_t seed) {
  const int64_t B = g.batch == 0 ? 1 : g.batch;
  auto mat = [&](int64_t r, int64_t c, bool broadcast) {
    return g.batch == 0 ? Shape{r, c} : Shape{broadcast ? 1 : B, r, c};
  };
  const Shape a_shape = mat(g.m, g.k, g.a_broadcast);
  Shape a_stored = a_shape;
  if (g.a_rows_repeat) a_stored[a_stored.size() - 2] = 1;
  const Tensor a = data(a_stored, seed, g.ab), b = data(mat(g.k, g.n, g.b_broadcast), seed + 1, g.ab);
  const Tensor c0 = data(mat(g.m, g.n, false), seed + 2, g.c);
  std::vector<double> want = values_of(matmul(a.expand(a_shape).contiguous(), b)), c0v = values_of(c0);
  for (size_t i = 0; i < want.size(); ++i) want[i] = g.alpha * want[i] + g.beta * c0v[i];
  // bfloat16 products are exact in float32: a float32 C is held to float32's tolerance.
  compare_backends(std::string("gemm ") + g.name, {{"c", want, tol_for(g.c)}}, [&](const Side& s) {
    Placed pa = place(a, g.la, g.ab, s), pb = place(b, g.lb, g.ab, s), pc = place(c0, g.lc, g.c, s);
    Tensor va = pa.view.expand(a_shape), vb = pb.view;
    if (g.a_broadcast) va = va.expand({B, g.m, g.k});
    if (g.b_broadcast) vb = vb.expand({B, g.k, g.n});
    s.backend.gemm(va, vb, pc.view, g.alpha, g.beta);
    return Outs{{"c", pc.read("c"), {}}};
  });
}

}  // namespace

TEST_CASE("cuda nn: gemm against matmul (layouts, transposes, broadcast batches, dtypes)", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const Layout C = Layout::Contiguous, T = Layout::Transposed, P = Layout::Padded, S = Layout::Slice;
  const GemmCase cases[] = {
      {"2-d contiguous", 0, 7, 13, 5, C, C, C, false, false, 1, 0, f32, f32},
      {"a transposed, c padded, alpha and beta", 0, 6, 9, 11, T, C, P, false, false, 0.5, 2, f32, f32},
      {"b transposed", 0, 5, 8, 3, C, T, C, false, false, 1, 1, f32, f32},
      {"both transposed", 0, 4, 6, 9, T, T, C, false, false, -1, 0, f32, f32},
      {"channel slices", 0, 5, 7, 6, S, S, S, false, false, 1, 0, f32, f32},
      {"a's rows one repeated row (packed for cuBLAS)", 0, 5, 6, 4, C, P, C, false, false, 1, 0.5, f32, f32, true},
      {"batched, a broadcast, b transposed", 3, 4, 5, 6, C, T, C, true, false, 1, 0, f32, f32},
      {"batched, b broadcast, c padded", 2, 3, 7, 5, T, C, P, false, true, 2, 1, f32, f32},
      {"batched, broadcast a with a repeated row, b transposed", 2, 3, 4, 5, T, T, C, true, false, 1, 0, f32, f32, true},
      {"float64", 2, 5, 9, 4, C, T, C, false, false, 1, 0.25, f64, f64},
      {"bfloat16 to float32", 0, 9, 17, 7, T, C, C, false, false, 1, 1, b16, f32},
      {"bfloat16 to bfloat16, batched", 2, 6, 10, 5, C, S, C, false, true, 1, 0, b16, b16},
  };
  uint64_t seed = 100;
  for (const GemmCase& g : cases) {
    seed += 10;
    SECTION(g.name) { check_gemm(g, seed); }
  }
}

namespace {

// ---- convolution ---------------------------------------------------------------------------------

struct ConvCase {
  const char* name;
  int64_t N, C, H, W, O, kh, kw;
  Conv2dParams p;
  Layout lx, ly, lw;  // activations (x and dx; y and gy) and weight (dw lands in the same place)
  DType act, wt;
  bool bias;
};

void check_conv(const ConvCase& c, uint64_t seed) {
  const Conv2dParams& p = c.p;
  const int64_t OH = (c.H + 2 * p.pad_h - p.dilation_h * (c.kh - 1) - 1) / p.stride_h + 1;
  const int64_t OW = (c.W + 2 * p.pad_w - p.dilation_w * (c.kw - 1) - 1) / p.stride_w + 1;
  const Shape xs{c.N, c.C, c.H, c.W}, ws{c.O, c.C / p.groups, c.kh, c.kw}, ys{c.N, c.O, OH, OW};
  // Weights exact in the activations' dtype even when stored as float32 master weights: every
  // path multiplies in the activations' dtype.
  const Tensor x = data(xs, seed, c.act), w = data(ws, seed + 1, c.act), gy = data(ys, seed + 2, c.act);
  const Tensor bias = c.bias ? data({c.O}, seed + 3, c.act) : Tensor();
  const Tensor dw0 = data(ws, seed + 4, c.wt);
  const Ref r = reference({x, w, bias}, gy, [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], p); });
  const Tol t = tol_for(c.act);
  compare_backends(c.name, {{"y", values_of(r.y), t}, {"dx", values_of(r.dx), t}, {"dw += gradient", plus(dw0, r.dw), t}},
                   [&](const Side& s) {
                     Placed px = place(x, c.lx, c.act, s), pw = place(w, c.lw, c.wt, s), pgy = place(gy, c.ly, c.act, s);
                     Placed pb = c.bias ? place(bias, Layout::Padded, c.wt, s) : Placed{};
                     Placed py = out_nan(ys, c.ly, c.act, s), pdx = out_nan(xs, c.lx, c.act, s);
                     Placed pdw = place(dw0, c.lw, c.wt, s);  // accumulated into
                     s.backend.conv2d(px.view, pw.view, pb.view, p, py.view);
                     s.backend.conv2d_backward_data(pgy.view, pw.view, p, pdx.view);
                     s.backend.conv2d_backward_weight(px.view, pgy.view, p, pdw.view);
                     return Outs{{"y", py.read("y"), {}}, {"dx", pdx.read("dx"), {}}, {"dw", pdw.read("dw"), {}}};
                   });
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
  const Tensor mean = c.training ? slimssl::mean(x, all_but_channel(x)) : rm;
  const Tensor var = c.training ? slimssl::var(x, all_but_channel(x), false) : rv;
  const Tensor invstd = rsqrt(add(var, eps));
  const Ref r = reference({x, w, b}, gy, [&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], rm.clone(), rv.clone(), c.training, 0.1, eps);
  });
  const Tol t = tol_for(c.dt), tp = tol_for(pt);
  Outs want;
  if (c.training) want = {{"mean", values_of(mean), tp}, {"var", values_of(var), tp}};
  want.push_back({"y", values_of(r.y), t});
  if (c.want_dx) want.push_back({"dx", values_of(r.dx), t});
  if (c.affine) want.push_back({"dw", values_of(r.dw), tp}), want.push_back({"db", values_of(r.db), tp});
  compare_backends(c.name, want, [&](const Side& s) {
    Outs got;
    Placed px = place(x, c.lx, c.dt, s), pgy = place(gy, c.lx, c.dt, s);
    if (c.training) {
      Placed pm = out_nan({C}, Layout::Gapped, pt, s), pv = out_nan({C}, Layout::Gapped, pt, s);
      s.backend.batch_norm_stats(px.view, pm.view, pv.view);
      got.push_back({"mean", pm.read("mean"), {}}), got.push_back({"var", pv.read("var"), {}});
    }
    Placed pm = place(mean, Layout::Contiguous, pt, s), pis = place(invstd, Layout::Gapped, pt, s);
    Placed pw = c.affine ? place(w, Layout::Gapped, pt, s) : Placed{}, pb = c.affine ? place(b, Layout::Contiguous, pt, s) : Placed{};
    Placed py = out_nan(c.shape, c.lx, c.dt, s);
    s.backend.batch_norm_forward(px.view, pm.view, pis.view, pw.view, pb.view, py.view);
    got.push_back({"y", py.read("y"), {}});
    const Layout ldx = c.lx == Layout::ChannelsLast ? Layout::Contiguous : c.lx;
    Placed pdx = c.want_dx ? out_nan(c.shape, ldx, c.dt, s) : Placed{};
    Placed pdw = c.affine ? out_nan({C}, Layout::Gapped, pt, s) : Placed{}, pdb = c.affine ? out_nan({C}, Layout::Contiguous, pt, s) : Placed{};
    s.backend.batch_norm_backward(pgy.view, px.view, pm.view, pis.view, pw.view, c.training, pdx.view, pdw.view, pdb.view);
    if (c.want_dx) got.push_back({"dx", pdx.read("dx"), {}});
    if (c.affine) got.push_back({"dw", pdw.read("dw"), {}}), got.push_back({"db", pdb.read("db"), {}});
    return got;
  });
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
  const Ref r = reference({x, w, b}, gy, [&](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1, eps); });
  const Tol t = tol_for(c.dt), tp = tol_for(pt);
  Outs want{{"y", values_of(r.y), t},
            {"mean", values_of(mean(x, {1})), tp},
            {"invstd", values_of(rsqrt(add(var(x, {1}, false), eps))), tp},
            {"dx", values_of(r.dx), t}};
  if (c.affine) want.push_back({"dw", values_of(r.dw), tp}), want.push_back({"db", values_of(r.db), tp});
  compare_backends(c.name, want, [&](const Side& s) {
    Placed px = place(x, c.lx, c.dt, s), pgy = place(gy, c.lx, c.dt, s);
    Placed pw = c.affine ? place(w, Layout::Gapped, pt, s) : Placed{}, pb = c.affine ? place(b, Layout::Contiguous, pt, s) : Placed{};
    Placed py = out_nan(shape, c.lx, c.dt, s), pm = out_nan({c.rows}, Layout::Gapped, pt, s);
    Placed pis = out_nan({c.rows}, Layout::Gapped, pt, s);
    s.backend.layer_norm_forward(px.view, pw.view, pb.view, eps, py.view, pm.view, pis.view);
    Placed pdx = out_nan(shape, c.lx, c.dt, s);
    Placed pdw = c.affine ? out_nan({c.cols}, Layout::Gapped, pt, s) : Placed{};
    Placed pdb = c.affine ? out_nan({c.cols}, Layout::Contiguous, pt, s) : Placed{};
    s.backend.layer_norm_backward(pgy.view, px.view, pm.view, pis.view, pw.view, pdx.view, pdw.view, pdb.view);
    Outs got{{"y", py.read("y"), {}}, {"mean", pm.read("mean"), {}}, {"invstd", pis.read("invstd"), {}},
             {"dx", pdx.read("dx"), {}}};
    if (c.affine) got.push_back({"dw", pdw.read("dw"), {}}), got.push_back({"db", pdb.read("db"), {}});
    return got;
  });
}

}  // namespace

TEST_CASE("cuda nn: layer norm forward and backward", "[cuda]") {
  if (!have_device()) return;
  const DType f32 = DType::F32, f64 = DType::F64, b16 = DType::BF16;
  const LnCase cases[] = {
      {"small rows", 5, 7, Layout::Contiguous, f32, true},
      {"rows longer than the block, no affine", 3, 300, Layout::Contiguous, f32, false},
      {"padded rows, several row splits for dw and db", 70, 33, Layout::Padded, f32, true},
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

// How many argmax entries do not point at their output's value inside its own plane.
int64_t misplaced_argmax(const std::vector<double>& arg, const std::vector<double>& y, const std::vector<double>& x,
                         int64_t plane, int64_t out_plane) {
  int64_t wrong = 0;
  for (size_t o = 0; o < y.size(); ++o) {
    const double a = arg[o];
    if (a < 0 || a >= plane) {
      ++wrong;
      continue;
    }
    const double v = x[static_cast<int64_t>(o) / out_plane * plane + static_cast<int64_t>(a)];
    if (!(v == y[o] || (std::isnan(v) && std::isnan(y[o])))) ++wrong;
  }
  return wrong;
}

void check_max_pool(const PoolCase& c, uint64_t seed, bool ties, bool nans) {
  const Shape ys{c.shape[0], c.shape[1], out_extent(c, c.shape[2], 0), out_extent(c, c.shape[3], 0)};
  const Tensor x = pool_input(c, seed, ties, nans), gy = data(ys, seed + 1, c.dt), dx0 = data(c.shape, seed + 2, c.dt);
  const Ref r = reference({x}, gy, [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], c.kernel, c.stride, c.pad); });
  const Tol t = tol_for(c.dt);
  // The routing (first maximum, NaN first) must be the reference's: dx accumulates.
  compare_backends(c.name, {{"y", values_of(r.y), t}, {"misplaced argmax", {0}, kExact}, {"dx += routed gradient", plus(dx0, r.dx), t}},
                   [&](const Side& s) {
                     Placed px = place(x, c.lx, c.dt, s), py = out_nan(ys, c.lx, c.dt, s);
                     Placed parg = place(Tensor::full(ys, -7, DType::I64), Layout::Padded, DType::I64, s);
                     s.backend.max_pool2d(px.view, c.kernel, c.stride, c.pad, py.view, parg.view);
                     const std::vector<double> y = py.read("y");
                     const double wrong = static_cast<double>(
                         misplaced_argmax(parg.read("argmax"), y, values_of(x), c.shape[2] * c.shape[3], ys[2] * ys[3]));
                     Placed pgy = place(gy, c.lx, c.dt, s), pdx = place(dx0, c.lx, c.dt, s);
                     s.backend.max_pool2d_backward(pgy.view, parg.view, pdx.view);
                     return Outs{{"y", y, {}}, {"argmax", {wrong}, {}}, {"dx", pdx.read("dx"), {}}};
                   });
}

void check_avg_pool(const PoolCase& c, uint64_t seed) {
  const Shape ys{c.shape[0], c.shape[1], out_extent(c, c.shape[2], c.oh), out_extent(c, c.shape[3], c.ow)};
  const Tensor x = data(c.shape, seed, c.dt), gy = data(ys, seed + 1, c.dt), dx0 = data(c.shape, seed + 2, c.dt);
  const Ref r = reference({x}, gy, [&](const std::vector<Tensor>& in) {
    return c.adaptive ? adaptive_avg_pool2d(in[0], c.oh, c.ow) : avg_pool2d(in[0], c.kernel, c.stride, c.pad);
  });
  PoolWindows win;
  if (c.adaptive) win.kind = PoolWindows::Kind::Adaptive;
  else win.kernel = c.kernel, win.stride = c.stride, win.pad = c.pad;
  const Tol t = tol_for(c.dt);
  const Layout ldx = c.lx == Layout::Padded ? Layout::ChannelsLast : c.lx;
  compare_backends(c.name, {{"y", values_of(r.y), t}, {"dx += spread gradient", plus(dx0, r.dx), t}}, [&](const Side& s) {
    Placed px = place(x, c.lx, c.dt, s), py = out_nan(ys, c.lx, c.dt, s);
    s.backend.avg_pool2d(px.view, win, py.view);
    Placed pgy = place(gy, c.lx, c.dt, s), pdx = place(dx0, ldx, c.dt, s);
    s.backend.avg_pool2d_backward(pgy.view, win, pdx.view);
    return Outs{{"y", py.read("y"), {}}, {"dx", pdx.read("dx"), {}}};
  });
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
  const Layout C = Layout::Contiguous, NHWC = Layout::ChannelsLast, P = Layout::Padded;
  const PoolCase cases[] = {
      {"fixed 3x3 stride 2 pad 1", {2, 3, 7, 6}, false, 3, 2, 1, 0, 0, C, f32},
      {"fixed 2x2 stride 2, odd width, channels-last", {2, 4, 6, 5}, false, 2, 2, 0, 0, 0, NHWC, f32},
      {"fixed 3x3 stride 1, padded view", {1, 3, 5, 4}, false, 3, 1, 0, 0, 0, P, f32},
      {"adaptive 7x5 to 3x2", {2, 3, 7, 5}, true, 0, 0, 0, 3, 2, C, f32},
      {"adaptive global 5x5 to 1x1, channels-last", {2, 6, 5, 5}, true, 0, 0, 0, 1, 1, NHWC, f32},
      {"adaptive 3x4 to 5x6 (overlapping bins), padded view", {1, 2, 3, 4}, true, 0, 0, 0, 5, 6, P, f32},
      {"bfloat16 fixed 3x3 stride 2 pad 1", {1, 3, 6, 7}, false, 3, 2, 1, 0, 0, C, b16},
      {"float64 adaptive 6x7 to 4x3", {2, 2, 6, 7}, true, 0, 0, 0, 4, 3, NHWC, f64},
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
  auto dev = [&](const Shape& s, DType t = DType::F32) { return Tensor::empty(s, t, d); };
  const Tensor a = dev({3, 4}), x = dev({1, 2, 5, 5}), y = dev({1, 3, 3, 3});
  REQUIRE_THROWS_WITH(gpu().gemm(a, dev({5, 2}), dev({3, 2}), 1, 0), Catch::Contains("gemm") && Catch::Contains("do not match"));
  REQUIRE_THROWS_WITH(gpu().gemm(a, Tensor::empty({4, 2}), dev({3, 2}), 1, 0),
                      Catch::Contains("gemm") && Catch::Contains("cuda:0"));
  REQUIRE_THROWS_WITH(gpu().conv2d(x, dev({3, 2, 3, 3}, DType::BF16), {}, {}, y),
                      Catch::Contains("conv2d") && Catch::Contains("bfloat16 weight"));
  REQUIRE_THROWS_WITH(gpu().conv2d(x, dev({3, 2, 2, 2}), {}, {}, y),
                      Catch::Contains("conv2d") && Catch::Contains("does not match"));
  REQUIRE_THROWS_WITH(gpu().batch_norm_stats(x, dev({2}, DType::F64), dev({2})),
                      Catch::Contains("batch_norm_stats") && Catch::Contains("float32"));
  REQUIRE_THROWS_WITH(gpu().layer_norm_forward(x, {}, {}, 1e-5, x, dev({1}), dev({1})),
                      Catch::Contains("layer_norm_forward") && Catch::Contains("[rows, cols]"));
  REQUIRE_THROWS_WITH(gpu().max_pool2d(x, 3, 2, 1, dev({1, 2, 2, 2}), dev({1, 2, 2, 2}, DType::I64)),
                      Catch::Contains("max_pool2d") && Catch::Contains("does not match"));
}
#endif  // SLIMSSL_WITH_CUDA
