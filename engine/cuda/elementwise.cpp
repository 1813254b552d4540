// CudaBackend: the unary and binary elementwise ops (kernels/elementwise.h).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/elementwise.h"

namespace slimssl::cuda {

void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) {
  const char* name = "cuda unary";
  check_device(name, ctx_.device(), {&x, &out});
  check_float(name, x);
  check_dtype(name, "out", out, x.dtype());
  check_same_shape(name, "x", x, "out", out);
  check_writable(name, out);
  kernels::unary(op, x.dtype(), strided(name, x), strided(name, out), a, b, ctx_.stream());
  check_launch(name);
}

void CudaBackend::binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) {
  const char* name = "cuda binary";
  check_device(name, ctx_.device(), {&x, &y, &out});
  check_float(name, x);
  check_dtype(name, "out", out, x.dtype());
  SLIMSSL_CHECK(y.dtype() == x.dtype() || (x.dtype() == DType::BF16 && y.dtype() == DType::F32), name, ": y is ",
                dtype_name(y.dtype()), " but x is ", dtype_name(x.dtype()),
                "; y may differ only as float32 beside bfloat16");
  check_same_shape(name, "x", x, "y", y);
  check_same_shape(name, "x", x, "out", out);
  check_writable(name, out);
  kernels::binary(op, x.dtype(), strided(name, x), y.dtype(), strided(name, y), strided(name, out), alpha,
                  ctx_.stream());
  check_launch(name);
}

}  // namespace slimssl::cuda
