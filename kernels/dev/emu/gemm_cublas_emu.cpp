// kernels/gemm_cublas.h answered on the CPU for the emulated device: the batched product as three
// plain loops, accumulated in double. It checks what cuBLAS would refuse (leading dimensions it
// cannot address); it does not model cuBLAS's own summation order.
#include <cstdint>
#include "kernels/dev/emu/vendor_emu.h"
#include "kernels/gemm_cublas.h"

namespace slimssl::kernels {

namespace {
int emulated_handle;
}

BlasHandle blas_create(cudaStream_t, void* workspace, size_t bytes) {
  SLIMSSL_CHECK(workspace && bytes > 0, "blas_create: no workspace given");
  return reinterpret_cast<BlasHandle>(&emulated_handle);
}
void blas_destroy(BlasHandle) {}

void gemm(BlasHandle h, const Gemm& g) {
  SLIMSSL_CHECK(h, "gemm: no cuBLAS handle");
  if (g.m == 0 || g.n == 0 || g.batch == 0) return;
  SLIMSSL_CHECK(blas_addressable(g.a, g.m, g.k) && blas_addressable(g.b, g.k, g.n) && g.ldc >= g.n,
                "gemm: a leading dimension cuBLAS cannot address");
  emu::run_or_record([=] {
    auto at = [](const GemmOperand& o, int64_t b, int64_t i, int64_t j) {
      return b * o.batch_stride + (o.col_major ? j * o.ld + i : i * o.ld + j);
    };
    for (int64_t b = 0; b < g.batch; ++b)
      for (int64_t i = 0; i < g.m; ++i)
        for (int64_t j = 0; j < g.n; ++j) {
          double s = 0;
          for (int64_t l = 0; l < g.k; ++l)
            s += emu_vendor::load(g.ab, g.a.ptr, at(g.a, b, i, l)) * emu_vendor::load(g.ab, g.b.ptr, at(g.b, b, l, j));
          const int64_t c = b * g.batch_stride_c + i * g.ldc + j;
          const double old = g.beta != 0 ? g.beta * emu_vendor::load(g.c_type, g.c, c) : 0.0;  // beta 0: C not read
          emu_vendor::store(g.c_type, g.c, c, g.alpha * s + old);
        }
  });
}

}  // namespace slimssl::kernels
