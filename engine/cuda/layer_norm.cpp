// Layer norm on CUDA: the primitives of engine/backend.h over kernels/layer_norm.h.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/tensor_geometry.h"
#include "kernels/layer_norm.h"

namespace slimssl::cuda {
namespace {

kernels::Strides2 strides2(const Tensor& t) { return {t.stride(0), t.stride(1)}; }

// x [rows, cols]; row tensors [rows] and column tensors [cols] of the parameter dtype.
void check_ln(const char* op, int device, const Tensor& x, std::initializer_list<const Tensor*> rows,
              std::initializer_list<const Tensor*> cols) {
  check_device(op, device, {&x});
  check_device(op, device, rows);
  check_device(op, device, cols);
  check_float(op, x);
  SLIMSSL_CHECK(x.dim() == 2, op, ": expected x [rows, cols], got ", shape_str(x.shape()));
  for (const Tensor* t : rows) check_tensor(op, "a per-row tensor", *t, param_dtype(x.dtype()), {x.size(0)});
  for (const Tensor* t : cols) check_tensor(op, "a per-column tensor", *t, param_dtype(x.dtype()), {x.size(1)});
}

}  // namespace

void CudaBackend::layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                     const Tensor& y, const Tensor& mean, const Tensor& invstd) {
  const char* op = "layer_norm_forward";
  check_ln(op, ctx_.device(), x, {&mean, &invstd}, {&weight, &bias});
  check_device(op, ctx_.device(), {&y});
  check_tensor(op, "y", y, x.dtype(), x.shape());
  SLIMSSL_CHECK(y.defined() && mean.defined() && invstd.defined(), op, ": y, mean and invstd must be given");
  SLIMSSL_CHECK(eps > 0, op, ": eps must be positive, got ", eps);
  kernels::layer_norm_forward({x.size(0), x.size(1)}, x.dtype(), x.raw(), strides2(x), vec_in(weight), vec_in(bias),
                              eps, y.raw(), strides2(y), vec_out(mean), vec_out(invstd), ctx_.stream());
}

void CudaBackend::layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                      const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db) {
  const char* op = "layer_norm_backward";
  check_ln(op, ctx_.device(), x, {&mean, &invstd}, {&weight, &dw, &db});
  check_device(op, ctx_.device(), {&gy, &dx});
  check_tensor(op, "gy", gy, x.dtype(), x.shape());
  check_tensor(op, "dx", dx, x.dtype(), x.shape());
  SLIMSSL_CHECK(gy.defined() && mean.defined() && invstd.defined(), op, ": gy, mean and invstd must be given");
  const kernels::Rows2d s{x.size(0), x.size(1)};
  void* ws = ctx_.workspace(kernels::layer_norm_backward_workspace_bytes(s, x.dtype()));
  kernels::layer_norm_backward(s, x.dtype(), gy.raw(), strides2(gy), x.raw(), strides2(x), vec_in(mean),
                               vec_in(invstd), vec_in(weight), dx.defined() ? dx.raw() : nullptr,
                               dx.defined() ? strides2(dx) : kernels::Strides2{}, vec_out(dw), vec_out(db), ws,
                               ctx_.stream());
}

}  // namespace slimssl::cuda
