// The CUDA backend's core primitives (fill, copy, copy_bytes, synchronize, unary, binary,
// reduce_rows, softmax_rows, gather, scatter_add, index_in_range, uniform) on a backend axis: each
// case runs on the CUDA backend and on the CPU backend with the same values in the same layouts,
// holds both to a reference computed here with plain loops (the scalar formulas of
// base/scalar_ops.h in the compute type, sums in double, element_uniform of base/rng.h), and the
// two backends to each other. Operands are views inside poisoned buffers (tests/device_operands.h):
// contiguous and 16-byte aligned (the vectorized path), misaligned, padded (gaps between rows),
// transposed (dense, not row-major) and broadcast (stride 0) inputs; every output is checked for
// writes outside its view. Sizes are odd on purpose (1, 7, 33, 1037, 3000: never multiples of a
// block or a vector). Layouts outside the CPU backend's contract (reduce_rows and softmax_rows on
// row-padded matrices or strided outputs, which the CUDA backend also accepts) run on CUDA only.
//
// Tolerances against the reference (|got - want| <= tol, NaN matching NaN; CUDA against CPU: 2 tol),
// eps the compute type's epsilon (float32 for float32 and bfloat16 data, float64 for float64):
//   - fill, copy, gather, Max, ArgMax, scatter_add, uniform: exact (no arithmetic, or the same
//     additions in the same order);
//   - unary, binary: 16 eps (1 + |want| + |x| + |y| + |x y|): the formula is the same code on both
//     sides, but the GPU's libm (expf, erff, tanhf, powf: up to 4 ulp) differs from the host's and
//     either compiler may contract a * b + c into an FMA; the scale covers intermediate terms
//     larger than the result (1 + erf(x) for x << 0);
//   - Sum: (cols / 32 + 10) eps sum|x|: float32 accumulation of cols / G terms per thread and a
//     log2(G)-deep tree (G = 32 or 256), against a double sum; Var: twice that relative to the
//     result (two passes); softmax: (cols / 32 + 14) eps relative (a few ulps of expf and the
//     division on top of the sum), log-softmax the same times (1 + |want|);
//   - bfloat16 results: plus one bfloat16 ulp (2^-7 |want|): float32 results a few ulps apart can
//     round to neighbouring bfloat16 values.
// Device cases go through gpu_or_skip() (tests/gpu_gate.h).
#include <catch2/catch.hpp>
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <limits>
#include <random>
#include "gpu_gate.h"
#include "kernels/fast_divmod.h"

TEST_CASE("fast divmod divides 64-bit indices exactly", "[kernels]") {
  using slimssl::kernels::FastDivmod;
  std::mt19937_64 gen(3);
  std::vector<uint64_t> divisors;
  for (uint64_t d = 1; d <= 300; ++d) divisors.push_back(d);
  for (int s = 1; s <= 63; ++s) {
    const uint64_t p = uint64_t{1} << s;
    divisors.insert(divisors.end(), {p - 1, p, p + 1});
  }
  for (int i = 0; i < 200; ++i) divisors.push_back(gen() >> (1 + gen() % 63) | 1);
  int64_t wrong = 0;
  for (uint64_t d : divisors) {
    if (d > (uint64_t{1} << 63)) continue;
    const FastDivmod f(d);
    std::vector<uint64_t> ns = {0, 1, d - 1, d, d + 1, 2 * d - 1, (uint64_t{1} << 63) - 1};
    for (int i = 0; i < 50; ++i) ns.push_back(gen() >> (1 + gen() % 63));
    for (uint64_t n : ns)
      if (n < (uint64_t{1} << 63) && f.div(n) != n / d) ++wrong;
  }
  CHECK(wrong == 0);
}

#ifdef SLIMSSL_WITH_CUDA
#include <functional>
#include "base/rng.h"
#include "device_operands.h"
#include "engine/cuda/cuda_backend.h"

using namespace slimssl;
using test::Layout;
using test::Placed;

namespace {

Backend& gpu() { return cuda::cuda_backend(0); }

using ReadBack = test::DeviceOperands::ReadBack;

const DType kFloatTypes[] = {DType::F32, DType::BF16, DType::F64};
const DType kAllTypes[] = {DType::F32, DType::F64, DType::BF16, DType::I32, DType::I64, DType::U8};

double compute_eps(DType t) { return t == DType::F64 ? DBL_EPSILON : FLT_EPSILON; }
double storage_rel(DType t) { return t == DType::BF16 ? 1.0 / 128 : 0.0; }

void expect_close(const ReadBack& got, const std::vector<double>& want, const std::vector<double>& tol) {
  std::string report;
  const int64_t bad = test::mismatches(got.values, want, tol, report);
  INFO("mismatches: " << report);
  CHECK(bad == 0);
  CHECK(got.guard_errors == 0);
}

// ---- the backend axis ----

struct Side {
  const char* name;
  test::DeviceOperands ops;
};
std::vector<Side> sides(bool with_cpu) {
  std::vector<Side> s = {{"cuda", test::DeviceOperands(gpu(), Device::cuda(0))}};
  if (with_cpu) s.push_back({"cpu", test::DeviceOperands(backend_for(Device::cpu()), Device::cpu())});
  return s;
}

// Runs a case on the CUDA backend (and on the CPU backend when `with_cpu`), holds each result to
// `want` within `tol`, and CUDA's to the CPU's within 2 tol.
using Run = std::function<ReadBack(test::DeviceOperands&)>;
void check_backends(const Run& run, const std::vector<double>& want, const std::vector<double>& tol,
                    bool with_cpu = true) {
  std::vector<ReadBack> got;
  for (Side& s : sides(with_cpu)) {
    INFO("backend " << s.name);
    got.push_back(run(s.ops));
    expect_close(got.back(), want, tol);
  }
  if (got.size() < 2) return;
  std::vector<double> twice;
  for (double t : tol) twice.push_back(2 * t);
  INFO("cuda against cpu");
  expect_close(got[0], got[1].values, twice);
}
void check_backends_exact(const Run& run, const std::vector<double>& want, bool with_cpu = true) {
  check_backends(run, want, std::vector<double>(want.size(), 0.0), with_cpu);
}

// A 1-d output with stride 2 (every other element of a [n, 2] buffer view).
Placed every_other(test::DeviceOperands& ops, int64_t n, DType t) {
  Placed p = ops.output({n, 2}, t, Layout::Contiguous);
  p.view = p.view.select(1, 0);
  return p;
}

// ---- elementwise ----

struct ElementwiseGeometry {
  Shape shape;
  Layout x, y, out;
  bool in_place;  // out is x itself
};
const ElementwiseGeometry kGeometries[] = {
    {{1037}, Layout::Contiguous, Layout::Contiguous, Layout::Contiguous, false},  // vectorized + tail
    {{1}, Layout::Contiguous, Layout::Contiguous, Layout::Contiguous, false},
    {{7}, Layout::Misaligned, Layout::Contiguous, Layout::Contiguous, false},     // strided, rank 1
    {{3, 5, 7}, Layout::Padded, Layout::Broadcast, Layout::Transposed, false},    // strided, rank 3
    {{33, 4}, Layout::Broadcast, Layout::Padded, Layout::Contiguous, false},
    {{2, 1, 513}, Layout::Contiguous, Layout::Broadcast, Layout::Misaligned, false},
    {{3, 5, 7}, Layout::Transposed, Layout::Transposed, Layout::Transposed, true},  // flat, permuted, in place
    {{9, 11}, Layout::Padded, Layout::Contiguous, Layout::Padded, true},            // strided, in place
};

std::string geometry_str(const ElementwiseGeometry& g) {
  return shape_str(g.shape) + " x " + test::layout_name(g.x) + ", y " + test::layout_name(g.y) + ", out " +
         (g.in_place ? "in place" : test::layout_name(g.out));
}

// Inputs in [-4, 4] with the kinks of the activations (0, +-3, 6) among them.
std::vector<double> elementwise_inputs(std::mt19937& gen, int64_t n, DType t) {
  std::vector<double> v = test::random_values(gen, n, -4, 4, t);
  const double kinks[] = {0.0, -3.0, 3.0, 6.0, -6.0};
  for (int64_t i = 0; i < n && i < 5; ++i) v[i * 7 % n] = kinks[i];
  return v;
}

double elementwise_tol(DType t, double want, double x, double y) {
  return 16 * compute_eps(t) * (1 + std::abs(want) + std::abs(x) + std::abs(y) + std::abs(x * y)) +
         storage_rel(t) * std::abs(want);
}

struct UnaryCase {
  UnaryOp op;
  const char* name;
  double a, b;
};
const UnaryCase kUnary[] = {
    {UnaryOp::Neg, "neg", 0, 0},           {UnaryOp::Exp, "exp", 0, 0},
    {UnaryOp::Log, "log", 0, 0},           {UnaryOp::Sqrt, "sqrt", 0, 0},
    {UnaryOp::Rsqrt, "rsqrt", 0, 0},       {UnaryOp::Abs, "abs", 0, 0},
    {UnaryOp::Sign, "sign", 0, 0},         {UnaryOp::Reciprocal, "reciprocal", 0, 0},
    {UnaryOp::Relu, "relu", 0, 0},         {UnaryOp::Relu6, "relu6", 0, 0},
    {UnaryOp::HardSwish, "hardswish", 0, 0}, {UnaryOp::HardSigmoid, "hardsigmoid", 0, 0},
    {UnaryOp::Sigmoid, "sigmoid", 0, 0},   {UnaryOp::Silu, "silu", 0, 0},
    {UnaryOp::Tanh, "tanh", 0, 0},         {UnaryOp::GeluErf, "gelu_erf", 0, 0},
    {UnaryOp::GeluTanh, "gelu_tanh", 0, 0}, {UnaryOp::AddScalar, "add_scalar", 0.75, 0},
    {UnaryOp::MulScalar, "mul_scalar", -1.5, 0}, {UnaryOp::RSub, "rsub", 2, 0},
    {UnaryOp::Pow, "pow", 2.5, 0},         {UnaryOp::Clamp, "clamp", -1, 2},
    {UnaryOp::InRange, "in_range", -1, 1}, {UnaryOp::Greater, "greater", 0.5, 0},
    {UnaryOp::GreaterEq, "greater_eq", 0, 0},
};

double unary_reference(DType t, UnaryOp op, double x, double a, double b) {
  if (t == DType::F64) return unary_op<double>(op, x, a, b);
  return test::as_dtype(t, unary_op<float>(op, static_cast<float>(x), static_cast<float>(a), static_cast<float>(b)));
}

struct BinaryCase {
  BinaryOp op;
  const char* name;
  double alpha;
};
const BinaryCase kBinary[] = {
    {BinaryOp::Add, "add", -0.5},
    {BinaryOp::Sub, "sub", 1},
    {BinaryOp::Mul, "mul", 1},
    {BinaryOp::Div, "div", 1},
    {BinaryOp::Maximum, "maximum", 1},
    {BinaryOp::GreaterEq, "greater_eq", 1},
    {BinaryOp::ReluBackward, "relu_backward", 1},
    {BinaryOp::Relu6Backward, "relu6_backward", 1},
    {BinaryOp::HardSwishBackward, "hardswish_backward", 1},
    {BinaryOp::HardSigmoidBackward, "hardsigmoid_backward", 1},
    {BinaryOp::SigmoidBackwardFromOutput, "sigmoid_backward", 1},
    {BinaryOp::SiluBackward, "silu_backward", 1},
    {BinaryOp::TanhBackwardFromOutput, "tanh_backward", 1},
    {BinaryOp::GeluErfBackward, "gelu_erf_backward", 1},
    {BinaryOp::GeluTanhBackward, "gelu_tanh_backward", 1},
};

double binary_reference(DType t, BinaryOp op, double x, double y, double alpha) {
  if (t == DType::F64) return binary_op<double>(op, x, y, alpha);
  return test::as_dtype(t, binary_op<float>(op, static_cast<float>(x), static_cast<float>(y),
                                            static_cast<float>(alpha)));
}

}  // namespace

TEST_CASE("cuda fill writes every dtype into any view and nothing else", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  const Layout layouts[] = {Layout::Contiguous, Layout::Misaligned, Layout::Padded, Layout::Transposed};
  const Shape shapes[] = {{1}, {1037}, {3, 5, 7}, {33, 4}};
  for (DType t : kAllTypes)
    for (double value : {2.75, 1.0 / 3.0, 0.0})
      for (Layout l : layouts)
        for (const Shape& s : shapes) {
          INFO(dtype_name(t) << " fill " << value << " " << shape_str(s) << " " << test::layout_name(l));
          check_backends_exact(
              [&](test::DeviceOperands& ops) {
                Placed out = ops.output(s, t, l);
                ops.backend().fill(out.view, value);
                return ops.read(out);
              },
              std::vector<double>(numel_of(s), test::as_dtype(t, value)));
        }
}

TEST_CASE("cuda copy converts between every pair of dtypes through any strides", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  struct CopyGeometry {
    Shape shape;
    Layout src, dst;
  };
  const CopyGeometry geometries[] = {
      {{1037}, Layout::Contiguous, Layout::Contiguous},     // same dtype: one memcpy
      {{3, 5, 7}, Layout::Transposed, Layout::Transposed},  // same dtype: one memcpy of a permuted layout
      {{3, 5, 7}, Layout::Transposed, Layout::Contiguous},
      {{3, 5, 7}, Layout::Padded, Layout::Misaligned},
      {{33, 4}, Layout::Broadcast, Layout::Transposed},
      {{7}, Layout::Misaligned, Layout::Contiguous},
  };
  std::mt19937 gen(5);
  for (DType from : kAllTypes)
    for (DType to : kAllTypes)
      for (const auto& g : geometries) {
        INFO(dtype_name(from) << " -> " << dtype_name(to) << " " << shape_str(g.shape) << " "
                              << test::layout_name(g.src) << " -> " << test::layout_name(g.dst));
        // [0, 100): in range for every dtype, fractions truncated toward zero for integers.
        const auto values = test::random_values(gen, numel_of(g.shape), 0, 100, from);
        std::vector<double> want;
        for (double v : test::held_values(values, g.shape, g.src)) want.push_back(test::as_dtype(to, v));
        check_backends_exact(
            [&](test::DeviceOperands& ops) {
              Placed src = ops.place(values, g.shape, from, g.src);
              Placed dst = ops.output(g.shape, to, g.dst);
              ops.backend().copy(src.view, dst.view);
              return ops.read(dst);
            },
            want);
      }
}

TEST_CASE("cuda copy_bytes moves bytes both ways after the queued work", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  Backend& be = gpu();
  std::vector<uint8_t> host(4099), back(4099, 0), other(4099, 0);
  std::mt19937 gen(7);
  for (auto& b : host) b = static_cast<uint8_t>(gen());
  Tensor a = Tensor::empty({4099}, DType::U8, Device::cuda()), b = Tensor::empty({4099}, DType::U8, Device::cuda());
  be.copy_bytes(a.raw(), true, host.data(), false, host.size());
  be.copy_bytes(static_cast<uint8_t*>(b.raw()) + 3, true, static_cast<uint8_t*>(a.raw()) + 5, true, 4000);
  be.copy_bytes(back.data(), false, b.raw(), true, back.size());
  CHECK(std::equal(host.begin() + 5, host.begin() + 4005, back.begin() + 3));
  be.copy_bytes(other.data(), false, host.data(), false, host.size());
  CHECK(other == host);
  // A fill queued before a read is visible to it; synchronize returns with the queue drained.
  be.fill(a, 7.0);
  be.synchronize();
  be.copy_bytes(back.data(), false, a.raw(), true, back.size());
  CHECK(std::all_of(back.begin(), back.end(), [](uint8_t v) { return v == 7; }));
  // More than the context's 4 MiB staging buffer each way, in chunks.
  std::vector<float> big(3 << 20), big_back(3 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 1000003);
  Tensor d = Tensor::empty({static_cast<int64_t>(big.size())}, DType::F32, Device::cuda());
  be.copy_bytes(d.raw(), true, big.data(), false, big.size() * 4);
  be.copy_bytes(big_back.data(), false, d.raw(), true, big.size() * 4);
  CHECK(big_back == big);
  be.copy_bytes(back.data(), false, a.raw(), true, 0);  // nothing to move
}

TEST_CASE("cuda unary ops match the scalar formulas on every layout and dtype", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  std::mt19937 gen(11);
  for (DType t : kFloatTypes)
    for (const auto& c : kUnary)
      for (const auto& g : kGeometries) {
        INFO(dtype_name(t) << " " << c.name << " " << geometry_str(g));
        const auto values = elementwise_inputs(gen, numel_of(g.shape), t);
        std::vector<double> want, tol;
        for (double v : test::held_values(values, g.shape, g.x)) {
          want.push_back(unary_reference(t, c.op, v, c.a, c.b));
          tol.push_back(elementwise_tol(t, want.back(), v, 0));
        }
        check_backends(
            [&](test::DeviceOperands& ops) {
              Placed x = ops.place(values, g.shape, t, g.x);
              Placed out = g.in_place ? x : ops.output(g.shape, t, g.out);
              ops.backend().unary(c.op, x.view, out.view, c.a, c.b);
              if (!g.in_place) CHECK(ops.read(x).values == x.values);  // the input is never written
              return ops.read(out);
            },
            want, tol);
      }
}

TEST_CASE("cuda binary ops match the scalar formulas with broadcast and mixed operands", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  const std::pair<DType, DType> types[] = {
      {DType::F32, DType::F32}, {DType::BF16, DType::BF16}, {DType::F64, DType::F64}, {DType::BF16, DType::F32}};
  std::mt19937 gen(13);
  for (auto [t, yt] : types)
    for (const auto& c : kBinary)
      for (const auto& g : kGeometries) {
        INFO(dtype_name(t) << " (y " << dtype_name(yt) << ") " << c.name << " " << geometry_str(g));
        const int64_t n = numel_of(g.shape);
        const auto xs = elementwise_inputs(gen, n, t), ys = elementwise_inputs(gen, n, yt);
        const auto xh = test::held_values(xs, g.shape, g.x), yh = test::held_values(ys, g.shape, g.y);
        std::vector<double> want, tol;
        for (int64_t i = 0; i < n; ++i) {
          want.push_back(binary_reference(t, c.op, xh[i], yh[i], c.alpha));
          tol.push_back(elementwise_tol(t, want.back(), xh[i], yh[i]));
        }
        // Structured bindings are copied into the lambdas of this file by name: clang 14 (the
        // ThreadSanitizer build, scripts/tsan_emulated.sh) cannot capture them.
        check_backends(
            [&, t = t, yt = yt](test::DeviceOperands& ops) {
              Placed x = ops.place(xs, g.shape, t, g.x);
              Placed y = ops.place(ys, g.shape, yt, g.y);
              Placed out = g.in_place ? x : ops.output(g.shape, t, g.out);
              ops.backend().binary(c.op, x.view, y.view, out.view, c.alpha);
              if (!g.in_place) CHECK(ops.read(x).values == x.values);
              CHECK(ops.read(y).values == y.values);
              return ops.read(out);
            },
            want, tol);
      }
}

namespace {

const std::pair<int64_t, int64_t> kRowShapes[] = {{1, 1},    {3, 7},    {5, 33},  {4, 1000},
                                                  {3, 1025}, {2, 3000}, {300, 5}, {1, 1024}};

// x [rows, cols]: contiguous, misaligned (both within every backend's contract) or row-padded
// (CUDA only).
Layout row_layout(size_t i) {
  const Layout l[] = {Layout::Contiguous, Layout::Misaligned, Layout::Padded};
  return l[i % 3];
}

// Row values; for the maximum, small integers (many ties) with NaNs in rows 1 and 2.
std::vector<double> row_inputs(std::mt19937& gen, int64_t rows, int64_t cols, DType t, bool for_max, double offset) {
  if (!for_max) return test::random_values(gen, rows * cols, offset - 2, offset + 2, t);
  std::vector<double> v(rows * cols);
  std::uniform_int_distribution<int> u(0, 4);
  for (auto& x : v) x = u(gen);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (rows > 1 && cols > 2) v[1 * cols + cols / 2] = nan;
  if (rows > 2) v[2 * cols + cols - 1] = nan, v[2 * cols] = 4;
  return v;
}

double sum_tol(DType t, int64_t cols, double abs_sum) { return (cols / 32.0 + 10) * compute_eps(t) * abs_sum; }

}  // namespace

TEST_CASE("cuda reduce_rows sums, maxima, argmaxima and variances match double references", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  std::mt19937 gen(17);
  size_t k = 0;
  for (DType t : kFloatTypes)
    for (auto [rows, cols] : kRowShapes)
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Max, ReduceOp::ArgMax, ReduceOp::Var}) {
        const Layout xl = row_layout(k++);
        const bool strided_out = k % 2 == 1;
        const bool max_like = op == ReduceOp::Max || op == ReduceOp::ArgMax;
        const double denom = static_cast<double>(cols - (k % 2));  // unbiased and biased
        INFO(dtype_name(t) << " op " << static_cast<int>(op) << " [" << rows << ", " << cols << "] x "
                           << test::layout_name(xl) << (strided_out ? ", out stride 2" : ", out misaligned")
                           << " denom " << denom);
        const auto values = row_inputs(gen, rows, cols, t, max_like, op == ReduceOp::Var ? 10 : 0);
        std::vector<double> want, tol;
        for (int64_t r = 0; r < rows; ++r) {
          const double* row = &values[r * cols];
          double sum = 0, abs_sum = 0;
          int64_t best = 0;
          for (int64_t c = 0; c < cols; ++c) {
            sum += row[c], abs_sum += std::abs(row[c]);
            if (!std::isnan(row[best]) && (row[c] > row[best] || std::isnan(row[c]))) best = c;
          }
          double ss = 0;
          for (int64_t c = 0; c < cols; ++c) ss += (row[c] - sum / cols) * (row[c] - sum / cols);
          switch (op) {
            case ReduceOp::Sum:
              want.push_back(test::as_dtype(t, sum));
              tol.push_back(sum_tol(t, cols, abs_sum) + storage_rel(t) * std::abs(sum));
              break;
            case ReduceOp::Max: want.push_back(row[best]), tol.push_back(0); break;
            case ReduceOp::ArgMax: want.push_back(static_cast<double>(best)), tol.push_back(0); break;
            case ReduceOp::Var:
              want.push_back(test::as_dtype(t, ss / denom));
              tol.push_back((2 * (cols / 32.0 + 10) * compute_eps(t) + storage_rel(t)) * std::abs(ss / denom));
              break;
          }
        }
        const DType out_type = op == ReduceOp::ArgMax ? DType::I64 : t;
        check_backends(
            [&, rows = rows, cols = cols](test::DeviceOperands& ops) {
              Placed x = ops.place(values, {rows, cols}, t, xl);
              Placed out = strided_out ? every_other(ops, rows, out_type) : ops.output({rows}, out_type, Layout::Misaligned);
              ops.backend().reduce_rows(op, x.view, out.view, denom);
              return ops.read(out);
            },
            want, tol, /*with_cpu=*/xl != Layout::Padded && !strided_out);
      }
}

TEST_CASE("cuda softmax_rows and log-softmax match double references", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  std::mt19937 gen(19);
  size_t k = 0;
  for (DType t : kFloatTypes)
    for (auto [rows, cols] : kRowShapes)
      for (bool log : {false, true}) {
        const Layout xl = row_layout(k++), ol = k % 2 ? Layout::Padded : Layout::Contiguous;
        INFO(dtype_name(t) << (log ? " log-softmax [" : " softmax [") << rows << ", " << cols << "] x "
                           << test::layout_name(xl) << ", out " << test::layout_name(ol));
        std::vector<double> values = test::random_values(gen, rows * cols, -5, 5, t);
        if (rows > 1 && cols > 1) values[cols + cols / 2] = std::numeric_limits<double>::quiet_NaN();  // row 1
        if (rows > 2)
          for (int64_t c = 0; c < cols; ++c) values[2 * cols + c] = 1.5;  // row 2: all equal
        std::vector<double> want, tol;
        const double rel = (cols / 32.0 + 14) * compute_eps(t);
        for (int64_t r = 0; r < rows; ++r) {
          const double* row = &values[r * cols];
          double m = row[0], z = 0;
          for (int64_t c = 1; c < cols; ++c) m = std::max(m, row[c]);
          for (int64_t c = 0; c < cols; ++c) z += std::exp(row[c] - m);
          for (int64_t c = 0; c < cols; ++c) {
            const double y = log ? row[c] - m - std::log(z) : std::exp(row[c] - m) / z;
            want.push_back(test::as_dtype(t, y));
            tol.push_back(log ? 2 * rel * (1 + std::abs(y)) + storage_rel(t) * std::abs(y)
                              : (2 * rel + storage_rel(t)) * std::abs(y));
          }
        }
        check_backends(
            [&, rows = rows, cols = cols](test::DeviceOperands& ops) {
              Placed x = ops.place(values, {rows, cols}, t, xl);
              Placed out = ops.output({rows, cols}, t, ol);
              ops.backend().softmax_rows(x.view, out.view, log);
              return ops.read(out);
            },
            want, tol, /*with_cpu=*/xl != Layout::Padded && ol != Layout::Padded);
      }
}

namespace {

// The logical (row-major) index of coordinate `at` in `shape`, and back.
int64_t linear(const Shape& shape, const Shape& at) {
  int64_t i = 0;
  for (size_t d = 0; d < shape.size(); ++d) i = i * shape[d] + at[d];
  return i;
}
Shape coords(const Shape& shape, int64_t i) {
  Shape at(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) at[d] = i % shape[d], i /= shape[d];
  return at;
}

// An index of shape `shape`: placed in layout `l`, or (along_dim) index_select's form, a 1-d index
// laid along `dim` and broadcast (stride 0) over the other dimensions.
struct IndexSpec {
  Shape shape;
  int64_t dim;
  bool along_dim;
  Layout l;
  std::vector<double> values;  // along_dim: shape[dim] values; else one per element

  std::vector<double> held() const {
    if (!along_dim) return test::held_values(values, shape, l);
    std::vector<double> v;
    for (int64_t i = 0; i < numel_of(shape); ++i) v.push_back(values[coords(shape, i)[dim]]);
    return v;
  }
  Placed place(test::DeviceOperands& ops) const {
    if (!along_dim) return ops.place(values, shape, DType::I64, l);
    Placed p = ops.place(values, {shape[dim]}, DType::I64, Layout::Contiguous);
    Shape strides(shape.size(), 0);
    strides[dim] = 1;
    p.view = p.buffer.as_strided(shape, strides, p.view.offset());
    return p;
  }
};

std::vector<double> random_indices(std::mt19937& gen, int64_t n, int64_t limit) {
  std::uniform_int_distribution<int64_t> u(0, limit - 1);
  std::vector<double> v(n);
  for (auto& x : v) x = static_cast<double>(u(gen));
  return v;
}

}  // namespace

TEST_CASE("cuda gather picks every dtype along any dimension through any strides", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  const Shape xs = {5, 6, 7};
  const Layout layouts[] = {Layout::Contiguous, Layout::Padded, Layout::Transposed};
  std::mt19937 gen(23);
  size_t k = 0;
  for (DType t : kAllTypes)
    for (int64_t dim = 0; dim < 3; ++dim)
      for (int variant = 0; variant < 4; ++variant) {
        Shape is = xs;
        is[dim] = 9;                              // any length along dim
        if (variant < 3) is[(dim + 1) % 3] -= 1;  // a part of x in another dimension
        const Layout xl = layouts[k % 3], ol = k % 2 ? Layout::Padded : Layout::Misaligned;
        const bool along = variant == 3;
        IndexSpec index{is, dim, along, layouts[(k + 1) % 3],
                        random_indices(gen, along ? is[dim] : numel_of(is), xs[dim])};
        ++k;
        INFO(dtype_name(t) << " dim " << dim << " index " << shape_str(is) << " x " << test::layout_name(xl)
                           << ", index " << (along ? "along dim, broadcast" : test::layout_name(index.l))
                           << ", out " << test::layout_name(ol));
        const auto values = test::random_values(gen, numel_of(xs), 0, 100, t);
        const auto held = test::held_values(values, xs, xl), idx = index.held();
        std::vector<double> want;
        for (int64_t i = 0; i < numel_of(is); ++i) {
          Shape at = coords(is, i);
          at[dim] = static_cast<int64_t>(idx[i]);
          want.push_back(held[linear(xs, at)]);
        }
        check_backends_exact(
            [&](test::DeviceOperands& ops) {
              Placed x = ops.place(values, xs, t, xl);
              Placed ip = index.place(ops);
              Placed out = ops.output(is, t, ol);
              ops.backend().gather(x.view, dim, ip.view, out.view);
              return ops.read(out);
            },
            want);
      }
}

TEST_CASE("cuda scatter_add adds repeated indices in a fixed order, exactly as the CPU loop", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  const Shape ds = {5, 6, 7};
  const Layout layouts[] = {Layout::Contiguous, Layout::Padded, Layout::Transposed};
  std::mt19937 gen(29);
  size_t k = 0;
  for (DType t : kFloatTypes)
    for (int64_t dim = 0; dim < 3; ++dim)
      for (int variant = 0; variant < 3; ++variant) {
        Shape is = ds;
        is[dim] = 9;  // more positions than dst has along dim: indices repeat
        if (variant == 1) is[(dim + 2) % 3] -= 2;
        const Layout dl = layouts[k % 3], sl = k % 2 ? Layout::Broadcast : Layout::Padded;
        const bool along = variant == 2;
        IndexSpec index{is, dim, along, layouts[(k + 1) % 3],
                        random_indices(gen, along ? is[dim] : numel_of(is), ds[dim])};
        ++k;
        INFO(dtype_name(t) << " dim " << dim << " index " << shape_str(is) << " dst " << test::layout_name(dl)
                           << ", index " << (along ? "along dim, broadcast" : test::layout_name(index.l)) << ", src "
                           << test::layout_name(sl));
        const auto dst_values = test::random_values(gen, numel_of(ds), -1, 1, t);
        const auto src_values = test::random_values(gen, numel_of(is), -1, 1, t);
        const auto idx = index.held(), src = test::held_values(src_values, is, sl);
        // Row-major over index's shape: each destination element receives its additions in
        // increasing order of the coordinate along dim (the kernels' order), each sum rounded to
        // the dtype as it is stored.
        std::vector<double> want = test::held_values(dst_values, ds, dl);
        for (int64_t i = 0; i < numel_of(is); ++i) {
          Shape at = coords(is, i);
          at[dim] = static_cast<int64_t>(idx[i]);
          double& d = want[linear(ds, at)];
          d = t == DType::F64 ? d + src[i] : test::as_dtype(t, static_cast<float>(d) + static_cast<float>(src[i]));
        }
        check_backends_exact(
            [&](test::DeviceOperands& ops) {
              Placed dst = ops.place(dst_values, ds, t, dl);
              Placed ip = index.place(ops);
              Placed s = ops.place(src_values, is, t, sl);
              ops.backend().scatter_add(dst.view, dim, ip.view, s.view);
              return ops.read(dst);
            },
            want);
      }
}

TEST_CASE("cuda index_in_range reads exactly the index view", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  std::mt19937 gen(31);
  // The poison around each view is -1: an index read outside the view would count as out of range.
  for (Side& s : sides(true))
    for (Layout l : {Layout::Contiguous, Layout::Misaligned, Layout::Padded, Layout::Transposed, Layout::Broadcast}) {
      INFO("backend " << s.name << ", " << test::layout_name(l));
      Backend& be = s.ops.backend();
      auto in_range = [&](const std::vector<double>& v, int64_t limit) {
        return be.index_in_range(s.ops.place(v, {4, 33}, DType::I64, l).view, limit);
      };
      std::vector<double> v = random_indices(gen, 4 * 33, 10);
      CHECK(in_range(v, 10));
      CHECK(in_range(v, 1000));
      v[31] = 10;
      CHECK_FALSE(in_range(v, 10));
      v[31] = -1;
      CHECK_FALSE(in_range(v, 10));
      v[31] = 9;
      CHECK(in_range(v, 10));
      CHECK_FALSE(in_range(v, 9));
      CHECK(be.index_in_range(s.ops.output({0}, DType::I64, Layout::Contiguous).view, 1));
    }
}

TEST_CASE("cuda uniform draws element_uniform's numbers in logical order on any view", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  const std::pair<Shape, Layout> geometries[] = {{{1}, Layout::Contiguous},     {{1037}, Layout::Contiguous},
                                                 {{7}, Layout::Misaligned},     {{3, 5, 7}, Layout::Padded},
                                                 {{33, 4}, Layout::Transposed}, {{2, 1, 9}, Layout::Transposed}};
  const std::pair<uint64_t, uint64_t> keys[] = {{0, 0}, {12345, 0x100000007ull}, {~0ull, 3}};
  for (DType t : kFloatTypes)
    for (auto [seed, counter] : keys)
      for (const auto& [shape, l] : geometries) {
        INFO(dtype_name(t) << " seed " << seed << " counter " << counter << " " << shape_str(shape) << " "
                           << test::layout_name(l));
        std::vector<double> want;
        for (int64_t e = 0; e < numel_of(shape); ++e)
          want.push_back(test::as_dtype(t, element_uniform(seed, counter, static_cast<uint64_t>(e))));
        check_backends_exact(
            [&, shape = shape, l = l, seed = seed, counter = counter](test::DeviceOperands& ops) {
              Placed out = ops.output(shape, t, l);
              ops.backend().uniform(out.view, seed, counter);
              return ops.read(out);
            },
            want);
      }
}

TEST_CASE("cuda core primitives refuse bad arguments naming the primitive", "[cuda][cuda_core]") {
  if (!testing::gpu_or_skip()) return;
  Backend& be = gpu();
  const Device dev = Device::cuda();
  Tensor f = Tensor::empty({4, 3}, DType::F32, dev), i32 = Tensor::empty({4, 3}, DType::I32, dev);
  Tensor f64 = Tensor::empty({4, 3}, DType::F64, dev), host = Tensor::empty({4, 3});
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(be.unary(UnaryOp::Exp, i32, i32), Contains("cuda unary") && Contains("int32"));
  CHECK_THROWS_WITH(be.unary(UnaryOp::Exp, host, f), Contains("cuda unary") && Contains("cpu"));
  CHECK_THROWS_WITH(be.binary(BinaryOp::Add, f, f64, f), Contains("cuda binary") && Contains("float64"));
  CHECK_THROWS_WITH(be.binary(BinaryOp::Add, f, f.narrow(0, 0, 2), f), Contains("cuda binary") && Contains("[2, 3]"));
  CHECK_THROWS_WITH(be.fill(Tensor::empty({3}, DType::F32, dev).unsqueeze(0).expand({4, 3}), 1.0),
                    Contains("cuda fill") && Contains("share memory"));
  CHECK_THROWS_WITH(be.reduce_rows(ReduceOp::Sum, f.reshape({12}), Tensor::empty({1}, DType::F32, dev)),
                    Contains("cuda reduce_rows") && Contains("[rows, cols]"));
  CHECK_THROWS_WITH(be.reduce_rows(ReduceOp::ArgMax, f, Tensor::empty({4}, DType::F32, dev)),
                    Contains("cuda reduce_rows") && Contains("int64"));
  CHECK_THROWS_WITH(be.reduce_rows(ReduceOp::Max, Tensor::empty({4, 0}, DType::F32, dev),
                                   Tensor::empty({4}, DType::F32, dev)),
                    Contains("cuda reduce_rows") && Contains("empty row"));
  CHECK_THROWS_WITH(be.softmax_rows(f.t(), Tensor::empty({3, 4}, DType::F32, dev), false),
                    Contains("cuda softmax_rows") && Contains("unit column stride"));
  CHECK_THROWS_WITH(be.reduce_rows(ReduceOp::Sum, i32, Tensor::empty({4}, DType::I32, dev)),
                    Contains("cuda reduce_rows") && Contains("int32"));
  CHECK_THROWS_WITH(be.gather(f, 1, i32, f), Contains("cuda gather") && Contains("int32"));
  CHECK_THROWS_WITH(be.gather(f, 2, Tensor::empty({4, 3}, DType::I64, dev), f),
                    Contains("cuda gather") && Contains("dim 2"));
  CHECK_THROWS_WITH(be.scatter_add(i32, 0, Tensor::empty({4, 3}, DType::I64, dev), i32),
                    Contains("cuda scatter_add") && Contains("int32"));
  CHECK_THROWS_WITH(be.index_in_range(f, 3), Contains("cuda index_in_range") && Contains("float32"));
  CHECK_THROWS_WITH(be.uniform(Tensor::empty({3}, DType::I64, dev), 1, 2), Contains("cuda uniform") && Contains("int64"));
  CHECK_THROWS_WITH(be.copy(f, Tensor::empty({3, 4}, DType::F32, dev)), Contains("cuda copy") && Contains("[3, 4]"));
  CHECK_THROWS_WITH(be.fill(Tensor::empty(Shape(9, 1), DType::F32, dev), 0.0), Contains("cuda fill") && Contains("rank 9"));
}

#else  // CPU-only build: the cases exist and say why they did nothing.

TEST_CASE("cuda core primitives match the CPU backend", "[cuda][cuda_core]") { slimssl::testing::gpu_or_skip(); }

#endif
