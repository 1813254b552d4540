// kernels::fill and kernels::copy: the elementwise family (elementwise.cuh) with no input (a
// constant) and with one input converted by base/dtype.h's convert (bfloat16 through float32).
// A copy between dense operands of one dtype and one layout is a plain device memcpy.
#include "base/error.h"
#include "kernels/elementwise.cuh"
#include "kernels/elementwise.h"

namespace slimssl::kernels {
namespace {

template <class T>
struct ConstantFn {
  T value;
  SLIMSSL_HD T operator()() const { return value; }
};

template <class To, class From>
struct ConvertFn {
  SLIMSSL_HD To operator()(From v) const { return convert<To>(v); }
};

// Same dtype, both dense in the same memory order: the bytes can move as one block.
bool same_dense_layout(const Strided& src, const Strided& dst) {
  IterShape<2> it(dst.rank, dst.shape);
  it.set_strides(0, dst.strides);
  it.set_strides(1, src.strides);
  it.simplify(/*reorder=*/true);
  return it.is_flat();
}

}  // namespace

void fill(DType dst_type, const Strided& dst, double value, cudaStream_t stream) {
  SLIMSSL_DISPATCH_ALL(dst_type, "cuda fill", [&] {
    elementwise_detail::run<scalar_t>("cuda fill", ConstantFn<scalar_t>{convert<scalar_t>(value)}, dst, {}, stream);
  });
}

void copy(DType src_type, const Strided& src, DType dst_type, const Strided& dst, cudaStream_t stream) {
  bool same_shape = src.rank == dst.rank;
  for (int d = 0; same_shape && d < dst.rank; ++d) same_shape = src.shape[d] == dst.shape[d];
  SLIMSSL_CHECK(same_shape, "cuda copy: source and destination shapes differ");
  if (dst.numel() == 0) return;
  if (src_type == dst_type && same_dense_layout(src, dst)) {
    check_cuda(cudaMemcpyAsync(dst.data, src.data, dst.numel() * dtype_size(dst_type), cudaMemcpyDeviceToDevice,
                               stream),
               "cuda copy (cudaMemcpyAsync)");
    return;
  }
  SLIMSSL_DISPATCH_ALL(dst_type, "cuda copy", [&] {
    using To = scalar_t;
    SLIMSSL_DISPATCH_ALL(src_type, "cuda copy", [&] {
      elementwise_detail::run<To, scalar_t>("cuda copy", ConvertFn<To, scalar_t>{}, dst, {&src}, stream);
    });
  });
}

}  // namespace slimssl::kernels
