// kernels::binary: the elementwise family (elementwise.cuh) with base/scalar_ops.h's binary_op,
// instantiated per op; y is read as its own type (float32 beside bfloat16 x is not rounded).
#include "base/error.h"
#include "kernels/elementwise.cuh"
#include "kernels/elementwise.h"

namespace slimssl::kernels {
namespace {

template <BinaryOp Op, class T, class Y>
struct BinaryFn {
  using C = typename compute_type<T>::type;
  C alpha;
  SLIMSSL_HD T operator()(T x, Y y) const { return convert<T>(binary_op<C>(Op, convert<C>(x), convert<C>(y), alpha)); }
};

template <class T, class Y>
void binary_typed(BinaryOp op, const Strided& x, const Strided& y, const Strided& out, double alpha,
                  cudaStream_t s) {
  using C = typename compute_type<T>::type;
  switch (op) {
#define SLIMSSL_BINARY_CASE(name)                                                                           \
  case BinaryOp::name:                                                                                      \
    return elementwise_detail::run<T, T, Y>("cuda binary", BinaryFn<BinaryOp::name, T, Y>{static_cast<C>(alpha)}, \
                                            out, {&x, &y}, s);
    SLIMSSL_BINARY_CASE(Add) SLIMSSL_BINARY_CASE(Sub) SLIMSSL_BINARY_CASE(Mul) SLIMSSL_BINARY_CASE(Div)
    SLIMSSL_BINARY_CASE(Maximum) SLIMSSL_BINARY_CASE(GreaterEq) SLIMSSL_BINARY_CASE(ReluBackward)
    SLIMSSL_BINARY_CASE(Relu6Backward) SLIMSSL_BINARY_CASE(HardSwishBackward)
    SLIMSSL_BINARY_CASE(HardSigmoidBackward) SLIMSSL_BINARY_CASE(SigmoidBackwardFromOutput)
    SLIMSSL_BINARY_CASE(SiluBackward) SLIMSSL_BINARY_CASE(TanhBackwardFromOutput)
    SLIMSSL_BINARY_CASE(GeluErfBackward) SLIMSSL_BINARY_CASE(GeluTanhBackward)
#undef SLIMSSL_BINARY_CASE
  }
  fail("cuda binary: unknown op ", static_cast<int>(op));
}

}  // namespace

void binary(BinaryOp op, DType type, const Strided& x, DType y_type, const Strided& y, const Strided& out,
            double alpha, cudaStream_t stream) {
  if (type == DType::BF16 && y_type == DType::F32) return binary_typed<bf16, float>(op, x, y, out, alpha, stream);
  SLIMSSL_CHECK(y_type == type, "cuda binary: y is ", dtype_name(y_type), " but x is ", dtype_name(type),
                " (y may differ only as float32 beside bfloat16)");
  SLIMSSL_DISPATCH_FLOAT_BF16(type, "cuda binary", [&] { binary_typed<scalar_t, scalar_t>(op, x, y, out, alpha, stream); });
}

}  // namespace slimssl::kernels
