// The CPU backend's gather and its adjoint scatter-add, over any strides.
#include <atomic>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/strided.h"

namespace slimssl::cpu {

void CpuBackend::gather(const Tensor& x, int64_t d, const Tensor& index, const Tensor& out) {
  // out[p] = x[p with coordinate d replaced by index[p]]. Writes go to distinct elements, so the
  // iteration may run in parallel.
  Shape xs = x.strides();
  const int64_t step = xs[d];
  xs[d] = 0;  // the coordinate along d comes from the index instead
  const int64_t* ip = static_cast<const int64_t*>(index.storage()->data);
  SLIMSSL_DISPATCH_ALL(x.dtype(), "gather", [&] {
    const scalar_t* xp = static_cast<const scalar_t*>(x.storage()->data);
    scalar_t* op = static_cast<scalar_t*>(out.storage()->data);
    for_each_offset<3>(index.shape(), {out.strides().data(), xs.data(), index.strides().data()},
                       {out.offset(), x.offset(), index.offset()},
                       [&](const std::array<int64_t, 3>& o) { op[o[0]] = xp[o[1] + ip[o[2]] * step]; });
  });
}

void CpuBackend::scatter_add(const Tensor& dst, int64_t d, const Tensor& index, const Tensor& src) {
  // dst[p with d replaced by index[p]] += src[p]. Two positions can only hit the same element if
  // they differ in coordinate d alone, so d is iterated innermost: such positions then share a
  // row, and for_each_offset never splits a row across threads (and adds in a fixed order).
  Shape ds = dst.strides();
  const int64_t step = ds[d];
  ds[d] = 0;
  Shape shape, s_dst, s_src, s_idx;
  auto take = [&](int64_t k) {
    shape.push_back(index.size(k));
    s_dst.push_back(ds[k]);
    s_src.push_back(src.stride(k));
    s_idx.push_back(index.stride(k));
  };
  for (int64_t k = 0; k < index.dim(); ++k)
    if (k != d) take(k);
  take(d);
  const int64_t* ip = static_cast<const int64_t*>(index.storage()->data);
  SLIMSSL_DISPATCH_FLOAT_BF16(dst.dtype(), "scatter_add", [&] {
    using C = typename compute_type<scalar_t>::type;
    const scalar_t* sp = static_cast<const scalar_t*>(src.storage()->data);
    scalar_t* dp = static_cast<scalar_t*>(dst.storage()->data);
    for_each_offset<3>(shape, {s_dst.data(), s_src.data(), s_idx.data()}, {dst.offset(), src.offset(), index.offset()},
                       [&](const std::array<int64_t, 3>& o) {
                         scalar_t& e = dp[o[0] + ip[o[2]] * step];
                         e = convert<scalar_t>(convert<C>(e) + convert<C>(sp[o[1]]));
                       });
  });
}

bool CpuBackend::index_in_range(const Tensor& index, int64_t limit) {
  const int64_t* ip = static_cast<const int64_t*>(index.storage()->data);
  std::atomic<bool> ok{true};  // the iteration may run on several threads
  for_each_offset<1>(index.shape(), {index.strides().data()}, {index.offset()}, [&](const std::array<int64_t, 1>& o) {
    if (ip[o[0]] < 0 || ip[o[0]] >= limit) ok.store(false, std::memory_order_relaxed);
  });
  return ok.load();
}

}  // namespace slimssl::cpu
