// Elementwise maps for the CPU reference backend: any strides in, contiguous out.
#pragma once
#include "engine/cpu/strided.h"
#include "engine/ops.h"
#include "engine/tensor.h"

namespace slimssl::cpu {

// out[i] = f(x[i]) for float tensors; f is called with scalar_t values.
template <class F>
Tensor unary_map(const char* op, const Tensor& x, F&& f) {
  require_cpu(op, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), op, [&] {
    const scalar_t* s = static_cast<const scalar_t*>(x.storage()->data);
    scalar_t* d = out.data<scalar_t>();
    Shape ost = out.strides();
    for_each_offset<2>(x.shape(), {ost.data(), x.strides().data()}, {0, x.offset()},
                       [&](const std::array<int64_t, 2>& o) { d[o[0]] = f(s[o[1]]); });
  });
  return out;
}

// out[i] = f(a[i], b[i]) with broadcasting to `shape`; both must have one float dtype.
template <class F>
Tensor binary_map(const char* op, const Tensor& a, const Tensor& b, const Shape& shape, F&& f) {
  require_cpu(op, a);
  Tensor ea = a.detach().expand(shape), eb = b.detach().expand(shape);
  Tensor out = Tensor::empty(shape, a.dtype());
  SLIMSSL_DISPATCH_FLOAT(a.dtype(), op, [&] {
    const scalar_t* pa = static_cast<const scalar_t*>(ea.storage()->data);
    const scalar_t* pb = static_cast<const scalar_t*>(eb.storage()->data);
    scalar_t* d = out.data<scalar_t>();
    Shape ost = out.strides();
    for_each_offset<3>(shape, {ost.data(), ea.strides().data(), eb.strides().data()},
                       {0, ea.offset(), eb.offset()},
                       [&](const std::array<int64_t, 3>& o) { d[o[0]] = f(pa[o[1]], pb[o[2]]); });
  });
  return out;
}

}  // namespace slimssl::cpu
