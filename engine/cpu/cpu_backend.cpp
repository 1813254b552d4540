// The CPU backend's memory primitives (fill, copy, byte copies) and its random fill.
#include "engine/cpu/cpu_backend.h"
#include <cstring>
#include "base/rng.h"
#include "engine/cpu/strided.h"
#include "engine/storage.h"

namespace slimssl::cpu {

const char* CpuBackend::name() const { return "cpu"; }

void CpuBackend::fill(const Tensor& dst, double v) {
  SLIMSSL_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    scalar_t* d = static_cast<scalar_t*>(dst.storage()->data);
    const scalar_t value = convert<scalar_t>(v);
    for_each_offset<1>(dst.shape(), {dst.strides().data()}, {dst.offset()},
                       [&](const std::array<int64_t, 1>& o) { d[o[0]] = value; });
  });
}

void CpuBackend::copy(const Tensor& src, const Tensor& dst) {
  SLIMSSL_CHECK(src.shape() == dst.shape(), "copy: source ", shape_str(src.shape()), " and destination ",
                shape_str(dst.shape()), " differ");
  SLIMSSL_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using dst_t = scalar_t;
    dst_t* d = static_cast<dst_t*>(dst.storage()->data);
    SLIMSSL_DISPATCH_ALL(src.dtype(), "copy", [&] {
      const scalar_t* s = static_cast<const scalar_t*>(src.storage()->data);
      for_each_offset<2>(dst.shape(), {dst.strides().data(), src.strides().data()}, {dst.offset(), src.offset()},
                         [&](const std::array<int64_t, 2>& o) { d[o[0]] = convert<dst_t>(s[o[1]]); });
    });
  });
}

void CpuBackend::copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) {
  SLIMSSL_CHECK(!dst_on_device && !src_on_device, "cpu backend: copy_bytes has no device memory to reach");
  if (nbytes) std::memcpy(dst, src, nbytes);
}

void CpuBackend::synchronize() {}

namespace {
template <class T>
void uniform_fill(const Tensor& out, uint64_t seed, uint64_t counter) {
  T* d = static_cast<T*>(out.storage()->data);
  const int64_t n = out.numel(), nd = out.dim();
  // Element e of the logical row-major order, at its strided offset.
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t e = 0; e < n; ++e) {
    int64_t off = out.offset(), rem = e;
    for (int64_t k = nd - 1; k >= 0; --k) {
      off += (rem % out.shape()[k]) * out.strides()[k];
      rem /= out.shape()[k];
    }
    d[off] = convert<T>(element_uniform(seed, counter, static_cast<uint64_t>(e)));
  }
}
}  // namespace

void CpuBackend::uniform(const Tensor& out, uint64_t seed, uint64_t counter) {
  SLIMSSL_DISPATCH_FLOAT_BF16(out.dtype(), "uniform", [&] { uniform_fill<scalar_t>(out, seed, counter); });
}

// The reference: base/rng.h's host shuffle.
void CpuBackend::permutation(const Tensor& order, const Tensor& inverse, uint64_t seed, const Tensor& counter,
                             uint32_t tag) {
  SLIMSSL_CHECK(order.dtype() == DType::I64 && inverse.dtype() == DType::I64 && counter.dtype() == DType::I64 &&
                    order.dim() == 1 && inverse.shape() == order.shape() && order.is_contiguous() &&
                    inverse.is_contiguous() && counter.numel() == 1,
                "permutation: order and inverse must be contiguous int64 [n], counter one int64");
  const uint64_t c = static_cast<uint64_t>(counter.data<int64_t>()[0]);
  const int64_t n = order.size(0);
  const std::vector<int64_t> p =
      random_permutation(n, RandomStream(seed, static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), tag));
  int64_t* o = order.data<int64_t>();
  int64_t* inv = inverse.data<int64_t>();
  for (int64_t i = 0; i < n; ++i) o[i] = p[i], inv[p[i]] = i;
}

}  // namespace slimssl::cpu
