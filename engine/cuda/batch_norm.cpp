// Batch norm on CUDA: the primitives of engine/backend.h over kernels/batch_norm.h.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/tensor_geometry.h"
#include "kernels/batch_norm.h"

namespace slimssl::cuda {
namespace {

// x [N, C] or [N, C, H, W]; each per-channel tensor given is [C] of the parameter dtype.
void check_bn(const char* op, int device, const Tensor& x, std::initializer_list<const Tensor*> channel) {
  check_device(op, device, {&x});
  check_device(op, device, channel);
  check_float(op, x);
  SLIMSSL_CHECK(x.dim() == 2 || x.dim() == 4, op, ": expected x [N, C] or [N, C, H, W], got ", shape_str(x.shape()));
  for (const Tensor* t : channel) check_tensor(op, "a per-channel tensor", *t, param_dtype(x.dtype()), {x.size(1)});
}

}  // namespace

void CudaBackend::batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) {
  check_bn("batch_norm_stats", ctx_.device(), x, {&mean, &var});
  SLIMSSL_CHECK(mean.defined() && var.defined(), "batch_norm_stats: mean and var must be given");
  const kernels::Dims4 d = dims4(x);
  const kernels::Strides4 xs = strides4(x);
  void* ws = ctx_.workspace(kernels::batch_norm_workspace_bytes(d, xs, x.dtype()));
  kernels::batch_norm_stats(d, x.dtype(), x.raw(), xs, vec_out(mean), vec_out(var), ws, ctx_.stream());
}

void CudaBackend::batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                                     const Tensor& bias, const Tensor& y) {
  check_bn("batch_norm_forward", ctx_.device(), x, {&mean, &invstd, &weight, &bias});
  check_device("batch_norm_forward", ctx_.device(), {&y});
  check_tensor("batch_norm_forward", "y", y, x.dtype(), x.shape());
  SLIMSSL_CHECK(mean.defined() && invstd.defined() && y.defined(),
                "batch_norm_forward: mean, invstd and y must be given");
  kernels::batch_norm_forward(dims4(x), x.dtype(), x.raw(), strides4(x), vec_in(mean), vec_in(invstd),
                              vec_in(weight), vec_in(bias), y.raw(), strides4(y), ctx_.stream());
}

void CudaBackend::batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                      const Tensor& weight, bool training, const Tensor& dx, const Tensor& dw,
                                      const Tensor& db) {
  const char* op = "batch_norm_backward";
  check_bn(op, ctx_.device(), x, {&mean, &invstd, &weight, &dw, &db});
  check_device(op, ctx_.device(), {&gy, &dx});
  check_tensor(op, "gy", gy, x.dtype(), x.shape());
  check_tensor(op, "dx", dx, x.dtype(), x.shape());
  SLIMSSL_CHECK(gy.defined() && mean.defined() && invstd.defined(), op, ": gy, mean and invstd must be given");
  const kernels::Dims4 d = dims4(x);
  const kernels::Strides4 xs = strides4(x);
  void* ws = ctx_.workspace(kernels::batch_norm_workspace_bytes(d, xs, x.dtype()));
  kernels::batch_norm_backward(d, x.dtype(), gy.raw(), strides4(gy), x.raw(), xs, vec_in(mean), vec_in(invstd),
                               vec_in(weight), training, dx.defined() ? dx.raw() : nullptr,
                               dx.defined() ? strides4(dx) : kernels::Strides4{}, vec_out(dw), vec_out(db), ws,
                               ctx_.stream());
}

}  // namespace slimssl::cuda
