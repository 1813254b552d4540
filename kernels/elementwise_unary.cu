// kernels::unary: the elementwise family (elementwise.cuh) with base/scalar_ops.h's unary_op,
// instantiated per op so that the op's switch folds away inside the kernel.
#include "base/error.h"
#include "kernels/elementwise.cuh"
#include "kernels/elementwise.h"

namespace slimssl::kernels {
namespace {

template <UnaryOp Op, class T>
struct UnaryFn {
  using C = typename compute_type<T>::type;
  C a, b;
  SLIMSSL_HD T operator()(T x) const { return convert<T>(unary_op<C>(Op, convert<C>(x), a, b)); }
};

template <UnaryOp Op, class T>
void run_op(const Strided& x, const Strided& out, double a, double b, cudaStream_t stream) {
  using C = typename compute_type<T>::type;
  elementwise_detail::run<T, T>("cuda unary", UnaryFn<Op, T>{static_cast<C>(a), static_cast<C>(b)}, out, {&x}, stream);
}

template <class T>
void unary_typed(UnaryOp op, const Strided& x, const Strided& out, double a, double b, cudaStream_t s) {
  switch (op) {
#define SLIMSSL_UNARY_CASE(name) \
  case UnaryOp::name: return run_op<UnaryOp::name, T>(x, out, a, b, s);
    SLIMSSL_UNARY_CASE(Neg) SLIMSSL_UNARY_CASE(Exp) SLIMSSL_UNARY_CASE(Log) SLIMSSL_UNARY_CASE(Sqrt)
    SLIMSSL_UNARY_CASE(Rsqrt) SLIMSSL_UNARY_CASE(Abs) SLIMSSL_UNARY_CASE(Sign) SLIMSSL_UNARY_CASE(Reciprocal)
    SLIMSSL_UNARY_CASE(Relu) SLIMSSL_UNARY_CASE(Relu6) SLIMSSL_UNARY_CASE(HardSwish)
    SLIMSSL_UNARY_CASE(HardSigmoid) SLIMSSL_UNARY_CASE(Sigmoid) SLIMSSL_UNARY_CASE(Silu) SLIMSSL_UNARY_CASE(Tanh)
    SLIMSSL_UNARY_CASE(GeluErf) SLIMSSL_UNARY_CASE(GeluTanh) SLIMSSL_UNARY_CASE(AddScalar)
    SLIMSSL_UNARY_CASE(MulScalar) SLIMSSL_UNARY_CASE(RSub) SLIMSSL_UNARY_CASE(Pow) SLIMSSL_UNARY_CASE(Clamp)
    SLIMSSL_UNARY_CASE(InRange) SLIMSSL_UNARY_CASE(Greater) SLIMSSL_UNARY_CASE(GreaterEq)
#undef SLIMSSL_UNARY_CASE
  }
  fail("cuda unary: unknown op ", static_cast<int>(op));
}

}  // namespace

void unary(UnaryOp op, DType type, const Strided& x, const Strided& out, double a, double b, cudaStream_t stream) {
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda unary", [&] { unary_typed<scalar_t>(op, x, out, a, b, stream); });
}

}  // namespace slimssl::kernels
