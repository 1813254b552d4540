// pack4d: see pack4d.h. One thread per element in a grid-stride loop; the index space is walked
// channels-innermost when the destination is channels-last, so writes coalesce either way.
#include "kernels/pack4d.h"
#include <type_traits>
#include "kernels/launch.h"

namespace slimssl::kernels {
namespace {

template <class S, class D>
__global__ void pack4d_kernel(Dims4 d, const S* src, Strides4 ss, D* dst, Strides4 ds, bool accumulate,
                              bool channels_inner) {
  using A = std::conditional_t<std::is_same_v<S, double> || std::is_same_v<D, double>, double, float>;
  const int64_t total = d.numel();
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const Index4 ix = unravel(i, d, channels_inner);
    const A v = convert<A>(src[ss.at(ix)]);
    D* o = dst + ds.at(ix);
    *o = accumulate ? convert<D>(convert<A>(*o) + v) : convert<D>(v);
  }
}

}  // namespace

void pack4d(const Dims4& d, DType src_t, const void* src, const Strides4& ss, DType dst_t, void* dst,
            const Strides4& ds, bool accumulate, cudaStream_t st) {
  if (d.numel() == 0) return;
  const bool channels_inner = ds.c == 1 && d.c > 1;
  SLIMSSL_DISPATCH_FLOAT_BF16(src_t, "pack4d", [&] {
    using S = scalar_t;
    SLIMSSL_DISPATCH_FLOAT_BF16(dst_t, "pack4d", [&] {
      using D = scalar_t;
      pack4d_kernel<S, D><<<grid_for(d.numel()), kBlock, 0, st>>>(d, static_cast<const S*>(src), ss,
                                                                     static_cast<D*>(dst), ds, accumulate,
                                                                     channels_inner);
    });
  });
  check_launch("pack4d");
}

}  // namespace slimssl::kernels
