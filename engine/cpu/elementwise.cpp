// The CPU backend's elementwise primitives: one strided loop per (op, dtype), the formula from
// base/scalar_ops.h. The op is a template parameter, so the switch inside unary_op / binary_op
// folds away and each loop is as tight as a hand-written one.
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/strided.h"

namespace slimssl::cpu {
namespace {

// flatten: the op's formula (a switch over every op) must be inlined for the constant OP to fold
// it away; without it GCC may call it per element.
template <UnaryOp OP, class T>
[[gnu::flatten]] void unary_loop(const Tensor& x, const Tensor& out, double a, double b) {
  using C = typename compute_type<T>::type;
  const T* s = static_cast<const T*>(x.storage()->data);
  T* d = static_cast<T*>(out.storage()->data);
  const C ca = static_cast<C>(a), cb = static_cast<C>(b);
  for_each_offset<2>(out.shape(), {out.strides().data(), x.strides().data()}, {out.offset(), x.offset()},
                     [&](const std::array<int64_t, 2>& o) {
                       d[o[0]] = convert<T>(unary_op<C>(OP, convert<C>(s[o[1]]), ca, cb));
                     });
}

template <BinaryOp OP, class T, class Y>
[[gnu::flatten]] void binary_loop(const Tensor& x, const Tensor& y, const Tensor& out, double alpha) {
  using C = typename compute_type<T>::type;
  const T* px = static_cast<const T*>(x.storage()->data);
  const Y* py = static_cast<const Y*>(y.storage()->data);
  T* d = static_cast<T*>(out.storage()->data);
  const C al = static_cast<C>(alpha);
  for_each_offset<3>(out.shape(), {out.strides().data(), x.strides().data(), y.strides().data()},
                     {out.offset(), x.offset(), y.offset()}, [&](const std::array<int64_t, 3>& o) {
                       d[o[0]] = convert<T>(binary_op<C>(OP, convert<C>(px[o[1]]), convert<C>(py[o[2]]), al));
                     });
}

// Calls f with the op as a compile-time constant.
#define SLIMSSL_UNARY_CASES(F)                                                                            \
  F(Neg) F(Exp) F(Log) F(Sqrt) F(Rsqrt) F(Abs) F(Sign) F(Reciprocal) F(Relu) F(Relu6) F(HardSwish)         \
  F(HardSigmoid) F(Sigmoid) F(Silu) F(Tanh) F(GeluErf) F(GeluTanh) F(AddScalar) F(MulScalar) F(RSub) F(Pow) \
  F(Clamp) F(InRange) F(Greater) F(GreaterEq)
#define SLIMSSL_BINARY_CASES(F)                                                                         \
  F(Add) F(Sub) F(Mul) F(Div) F(Maximum) F(GreaterEq) F(ReluBackward) F(Relu6Backward) F(HardSwishBackward) \
  F(HardSigmoidBackward) F(SigmoidBackwardFromOutput) F(SiluBackward) F(TanhBackwardFromOutput)          \
  F(GeluErfBackward) F(GeluTanhBackward)

void check_float_pair(const char* op, const Tensor& x, const Tensor& out) {
  SLIMSSL_CHECK(x.shape() == out.shape(), op, ": input ", shape_str(x.shape()), " and output ",
                shape_str(out.shape()), " differ");
  SLIMSSL_CHECK(x.dtype() == out.dtype() && is_floating(x.dtype()), op, ": expected one floating dtype, got ",
                dtype_name(x.dtype()), " and ", dtype_name(out.dtype()));
}

template <class T>
void unary_any(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  switch (op) {
#define SLIMSSL_CASE(name) \
  case UnaryOp::name: return unary_loop<UnaryOp::name, T>(x, out, a, b);
    SLIMSSL_UNARY_CASES(SLIMSSL_CASE)
#undef SLIMSSL_CASE
  }
}

template <class T, class Y>
void binary_any(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) {
  switch (op) {
#define SLIMSSL_CASE(name) \
  case BinaryOp::name: return binary_loop<BinaryOp::name, T, Y>(x, y, out, alpha);
    SLIMSSL_BINARY_CASES(SLIMSSL_CASE)
#undef SLIMSSL_CASE
  }
}

}  // namespace

void CpuBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  check_float_pair("unary", x, out);
  SLIMSSL_DISPATCH_FLOAT_BF16(x.dtype(), "unary", [&] { unary_any<scalar_t>(op, x, out, a, b); });
}

void CpuBackend::binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) {
  check_float_pair("binary", x, out);
  SLIMSSL_CHECK(y.shape() == out.shape(), "binary: operand ", shape_str(y.shape()), " and output ",
                shape_str(out.shape()), " differ");
  const bool widened_y = x.dtype() == DType::BF16 && y.dtype() == DType::F32;
  SLIMSSL_CHECK(y.dtype() == x.dtype() || widened_y, "binary: operand dtypes ", dtype_name(x.dtype()), " and ",
                dtype_name(y.dtype()), " do not combine");
  SLIMSSL_DISPATCH_FLOAT_BF16(x.dtype(), "binary", [&] {
    if (widened_y) binary_any<scalar_t, float>(op, x, y, out, alpha);
    else binary_any<scalar_t, scalar_t>(op, x, y, out, alpha);
  });
}

}  // namespace slimssl::cpu
