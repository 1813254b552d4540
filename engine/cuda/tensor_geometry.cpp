#include "engine/cuda/tensor_geometry.h"

namespace slimssl::cuda {

kernels::Dims4 dims4(const Tensor& t) {
  SLIMSSL_CHECK(t.dim() == 2 || t.dim() == 4, "expected a tensor [N, C] or [N, C, H, W], got ", shape_str(t.shape()));
  if (t.dim() == 2) return {t.size(0), t.size(1), 1, 1};
  return {t.size(0), t.size(1), t.size(2), t.size(3)};
}

kernels::Strides4 strides4(const Tensor& t) {
  if (t.dim() == 2) return {t.stride(0), t.stride(1), 0, 0};
  return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)};
}

namespace {
bool dense_as(const Tensor& t, const kernels::Strides4& want) {
  const kernels::Dims4 d = dims4(t);
  const kernels::Strides4 s = strides4(t);
  return (d.n == 1 || s.n == want.n) && (d.c == 1 || s.c == want.c) && (d.h == 1 || s.h == want.h) &&
         (d.w == 1 || s.w == want.w);
}
}  // namespace

bool dense_nchw(const Tensor& t) { return dense_as(t, kernels::nchw_strides(dims4(t))); }
bool dense_nhwc(const Tensor& t) { return dense_as(t, kernels::nhwc_strides(dims4(t))); }

kernels::VecIn vec_in(const Tensor& t) {
  if (!t.defined()) return {};
  return {t.raw(), t.dim() == 1 ? t.stride(0) : 1};
}

kernels::VecOut vec_out(const Tensor& t) {
  if (!t.defined()) return {};
  return {t.raw(), t.dim() == 1 ? t.stride(0) : 1};
}

void check_device(const char* op, int device, std::initializer_list<const Tensor*> ts) {
  for (const Tensor* t : ts)
    if (t->defined())
      SLIMSSL_CHECK(t->device() == Device::cuda(device), op, ": expected tensors on cuda:", device, ", got one on ",
                    t->device().str());
}

void check_tensor(const char* op, const char* what, const Tensor& t, DType dtype, const Shape& shape) {
  if (!t.defined()) return;
  SLIMSSL_CHECK(t.dtype() == dtype, op, ": ", what, " must be ", dtype_name(dtype), ", got ", dtype_name(t.dtype()));
  SLIMSSL_CHECK(t.shape() == shape, op, ": ", what, " must have shape ", shape_str(shape), ", got ",
                shape_str(t.shape()));
}

void check_float(const char* op, const Tensor& x) {
  SLIMSSL_CHECK(is_floating(x.dtype()), op, ": expected a floating-point tensor, got ", dtype_name(x.dtype()));
}

DType param_dtype(DType dt) { return dt == DType::F64 ? DType::F64 : DType::F32; }

}  // namespace slimssl::cuda
