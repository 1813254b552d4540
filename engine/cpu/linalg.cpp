// The CPU backend's gemm: 2-d or batched, operands read through their strides by cpu::gemm (a
// transposed or channel-sliced operand is passed as a leading dimension, never copied).
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/widen.h"

namespace slimssl::cpu {
namespace {

// How one [rows, cols] matrix (the last two dims of t) is handed to gemm: row-major with leading
// dimension ld >= cols, or column-major (trans) with ld >= rows. `ok` is false when neither fits
// (e.g. a repeated row: row stride 0): the caller then packs the operand.
struct Operand {
  bool trans = false;
  int64_t ld = 0;
  bool ok = true;
};

Operand operand(const Tensor& t) {
  const int64_t d = t.dim();
  const int64_t rs = t.stride(d - 2), cs = t.stride(d - 1), r = t.size(d - 2), c = t.size(d - 1);
  if ((cs == 1 || c <= 1) && (rs >= c || r <= 1)) return {false, std::max<int64_t>({rs, c, 1}), true};
  if ((rs == 1 || r <= 1) && (cs >= r || c <= 1)) return {true, std::max<int64_t>({cs, r, 1}), true};
  return {false, 0, false};
}

// t itself when gemm can read it in place, else a packed copy.
Tensor readable(const Tensor& t) {
  if (operand(t).ok) return t;
  Tensor packed = Tensor::empty(t.shape(), t.dtype());
  backend_for(Device::cpu()).copy(t, packed);
  return packed;
}

template <class T>
void gemm_batched(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) {
  const bool batched = a.dim() == 3;
  const int64_t B = batched ? c.size(0) : 1, m = c.size(-2), n = c.size(-1), k = a.size(-1);
  const Operand oa = operand(a), ob = operand(b);
  SLIMSSL_CHECK(c.stride(-1) == 1 || n <= 1, "gemm: output needs a unit column stride, strides ",
                shape_str(c.strides()));
  const int64_t ldc = std::max<int64_t>({c.stride(-2), n, 1});
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* pc = c.data<T>();
  for (int64_t i = 0; i < B; ++i) {
    T* ci = pc + (batched ? i * c.stride(0) : 0);
    if (k == 0) {  // an empty product: C = beta C
      for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j) ci[r * ldc + j] = beta == 0 ? T(0) : T(beta * ci[r * ldc + j]);
      continue;
    }
    gemm(oa.trans, ob.trans, m, n, k, T(alpha), pa + (batched ? i * a.stride(0) : 0), oa.ld,
         pb + (batched ? i * b.stride(0) : 0), ob.ld, T(beta), ci, ldc);
  }
}

}  // namespace

void CpuBackend::gemm(const Tensor& a_in, const Tensor& b_in, const Tensor& c_in, double alpha, double beta) {
  SLIMSSL_CHECK((a_in.dim() == 2 || a_in.dim() == 3) && a_in.dim() == b_in.dim() && a_in.dim() == c_in.dim(),
                "gemm: expected 2-d or 3-d operands of one rank, got ", shape_str(a_in.shape()), ", ",
                shape_str(b_in.shape()), ", ", shape_str(c_in.shape()));
  if (c_in.numel() == 0) return;
  Tensor a = readable(widened(a_in)), b = readable(widened(b_in));
  Tensor c = widened_output(c_in);
  if (!c.same(c_in) && beta != 0) copy(c_in, c);
  SLIMSSL_DISPATCH_FLOAT(c.dtype(), "gemm", [&] { gemm_batched<scalar_t>(a, b, c, alpha, beta); });
  narrow_back(c, c_in);
}

}  // namespace slimssl::cpu
