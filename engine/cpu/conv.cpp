// The CPU backend's convolution: im2col per (image, group) followed by one cpu::gemm.
//
// The weight is read through its strides. A channel slice W[:k_out, :k_in] of a contiguous
// [O, C, kh, kw] weight still has each output row's (C/groups, kh, kw) block contiguous, only the
// row pitch (stride(0)) is the parent's: gemm takes that pitch as its leading dimension, so the
// slice is never copied. The weight gradient is accumulated the same way, straight into the
// strided region of the parent's gradient it is given.
//
// Column layouts: the forward builds col[K, P] (K = C/groups*kh*kw, P = OH*OW) so that
// out[Og, P] = W[Og, K] @ col streams rows; dW[Og, K] += gy[Og, P] @ col^T reuses that layout;
// the data gradient builds dcol[K, P] = W^T @ gy and folds it back with col2im.
#include <omp.h>
#include <algorithm>
#include <vector>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/widen.h"

namespace slimssl::cpu {
namespace {


struct ConvGeom {
  int64_t N, C, H, W;     // input
  int64_t O, kh, kw;      // weight
  int64_t OH, OW;         // output
  int64_t G, Cg, Og;      // groups, channels per group in and out
  int64_t K, P;           // gemm inner size (Cg*kh*kw) and output pixels (OH*OW)
  int64_t sN, sC, sH, sW; // input strides (elements)
  Conv2dParams p;
};

// Whether each output row of w ([O, Cg, kh, kw]) is one contiguous run of K elements, so w can be
// handed to gemm as an [O, K] matrix with leading dimension stride(0). Size-1 dims have no say.
bool rows_contiguous(const Tensor& w) {
  int64_t expected = 1;
  for (int64_t d = 3; d >= 1; --d) {
    if (w.size(d) != 1 && w.stride(d) != expected) return false;
    expected *= w.size(d);
  }
  return true;
}

// Parallelize over (image, group) tasks when there are enough to feed every thread; otherwise run
// them one by one and let gemm parallelize over its rows (nested regions would serialize it).
// Small convolutions stay on one thread: a fork/join costs more than ~1M multiply-adds when the
// cores are shared, and small convs come in large numbers (tests, tiny models).
bool outer_parallel(const ConvGeom& g) {
  const int64_t tasks = g.N * g.G;
  return tasks > 1 && tasks >= omp_get_max_threads() && tasks * g.Og * g.K * g.P >= (int64_t{1} << 20);
}

// Output columns [lo, hi) of a kernel column whose input column is ow * stride + off lie inside
// [0, W); the rest read padding. Computing the range once keeps the inner loops branch-free.
inline void valid_range(int64_t off, int64_t stride, int64_t W, int64_t OW, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = W - off <= 0 ? 0 : (W - off + stride - 1) / stride;
  lo = std::min(lo, OW);
  hi = std::max(lo, std::min(hi, OW));
}

// Unfolds group g of one image (x points at the image) into dst[kk * sk + pix * sp]; (sk, sp) =
// (P, 1) gives col[K, P], (1, K) gives colT[P, K]. Padding reads as zero.
template <class T>
void im2col(const ConvGeom& g, const T* x, int64_t group, T* dst, int64_t sk, int64_t sp) {
  const auto& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    const T* xc = x + (group * g.Cg + c) * g.sC;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* d = dst + ((c * g.kh + ki) * g.kw + kj) * sk;
        const int64_t off = kj * p.dilation_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off, p.stride_w, g.W, g.OW, lo, hi);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          T* drow = d + oh * g.OW * sp;
          if (ih < 0 || ih >= g.H) {
            for (int64_t ow = 0; ow < g.OW; ++ow) drow[ow * sp] = T(0);
            continue;
          }
          const T* xrow = xc + ih * g.sH;
          for (int64_t ow = 0; ow < lo; ++ow) drow[ow * sp] = T(0);
          if (sp == 1 && p.stride_w == 1 && g.sW == 1) {
            std::copy(xrow + lo + off, xrow + hi + off, drow + lo);  // the common case: a plain copy
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) drow[ow * sp] = xrow[(ow * p.stride_w + off) * g.sW];
          }
          for (int64_t ow = hi; ow < g.OW; ++ow) drow[ow * sp] = T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: adds src[kk * sk + pix * sp] into group g of one contiguous image dx.
template <class T>
void col2im(const ConvGeom& g, const T* src, int64_t sk, int64_t sp, int64_t group, T* dx) {
  const auto& p = g.p;
  for (int64_t c = 0; c < g.Cg; ++c) {
    T* xc = dx + (group * g.Cg + c) * g.H * g.W;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* s = src + ((c * g.kh + ki) * g.kw + kj) * sk;
        const int64_t off = kj * p.dilation_w - p.pad_w;
        int64_t lo, hi;
        valid_range(off, p.stride_w, g.W, g.OW, lo, hi);
        for (int64_t oh = 0; oh < g.OH; ++oh) {
          int64_t ih = oh * p.stride_h - p.pad_h + ki * p.dilation_h;
          if (ih < 0 || ih >= g.H) continue;
          const T* srow = s + oh * g.OW * sp;
          T* xrow = xc + ih * g.W;
          for (int64_t ow = lo; ow < hi; ++ow) xrow[ow * p.stride_w + off] += srow[ow * sp];
        }
      }
    }
  }
}

// A 1x1, stride-1, unpadded conv over an image whose planes are contiguous needs no im2col: the
// input itself is the [Cg, P] column matrix, with the channel stride as its leading dimension.
bool input_is_columns(const ConvGeom& g) {
  const auto& p = g.p;
  return g.kh == 1 && g.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0 &&
         (g.W == 1 || g.sW == 1) && (g.H == 1 || g.sH == g.W) && g.sC >= g.P;
}

template <class T>
void conv_forward(const ConvGeom& g, const T* x, const T* w, int64_t ldw, const T* bias, T* y) {
  const int64_t tasks = g.N * g.G;
  const bool direct = input_is_columns(g);
#pragma omp parallel if (outer_parallel(g))
  {
    std::vector<T> col(direct ? 0 : g.K * g.P);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / g.G, grp = t % g.G;
      const T* xn = x + n * g.sN;
      const T* b = col.data();
      int64_t ldb = g.P;
      if (direct) {
        b = xn + grp * g.Cg * g.sC;
        ldb = g.sC;
      } else {
        im2col(g, xn, grp, col.data(), g.P, 1);
      }
      T* yo = y + (n * g.O + grp * g.Og) * g.P;
      if (bias) {
        for (int64_t o = 0; o < g.Og; ++o) std::fill(yo + o * g.P, yo + (o + 1) * g.P, bias[grp * g.Og + o]);
      }
      cpu::gemm(false, false, g.Og, g.P, g.K, T(1), w + grp * g.Og * ldw, ldw, b, ldb, bias ? T(1) : T(0), yo,
                g.P);
    }
  }
}

// dx (contiguous, zero-filled, or null) and dw ([O, K] contiguous, zero-filled, or null) from gy
// (contiguous [N, O, P]). A team of threads accumulates dw privately and adds it up at the end;
// a lone thread accumulates in place.
template <class T>
void conv_backward_data_impl(const ConvGeom& g, const T* w, int64_t ldw, const T* gy, T* dx) {
  const int64_t tasks = g.N * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    std::vector<T> col(g.K * g.P);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / g.G, grp = t % g.G;
      const T* gyo = gy + (n * g.O + grp * g.Og) * g.P;
      // dcol[K, P] = W[Og, K]^T @ gy[Og, P], folded back into the image.
      cpu::gemm(true, false, g.K, g.P, g.Og, T(1), w + grp * g.Og * ldw, ldw, gyo, g.P, T(0), col.data(), g.P);
      col2im(g, col.data(), g.P, 1, grp, dx + n * g.C * g.H * g.W);
    }
  }
}

// dw[o * lddw + k] += dW[o, k]. A team of threads accumulates privately and adds up at the end; a
// lone thread accumulates in place.
template <class T>
void conv_backward_weight_impl(const ConvGeom& g, const T* x, const T* gy, T* dw, int64_t lddw) {
  const int64_t tasks = g.N * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    const bool alone = omp_get_num_threads() == 1;
    std::vector<T> col(g.K * g.P), dw_private(alone ? 0 : g.O * g.K, T(0));
    T* acc = alone ? dw : dw_private.data();
    const int64_t ld = alone ? lddw : g.K;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / g.G, grp = t % g.G;
      const T* gyo = gy + (n * g.O + grp * g.Og) * g.P;
      // dW[Og, K] += gy[Og, P] @ col[K, P]^T; col in [K, P] layout keeps im2col's writes contiguous.
      im2col(g, x + n * g.sN, grp, col.data(), g.P, 1);
      cpu::gemm(false, true, g.Og, g.K, g.P, T(1), gyo, g.P, col.data(), g.P, T(1), acc + grp * g.Og * ld, ld);
    }
    if (!alone) {
#pragma omp critical(slimssl_conv_dw)
      for (int64_t o = 0; o < g.O; ++o)
        for (int64_t k = 0; k < g.K; ++k) dw[o * lddw + k] += dw_private[o * g.K + k];
    }
  }
}

ConvGeom make_geom(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  ConvGeom g;
  g.N = x.size(0), g.C = x.size(1), g.H = x.size(2), g.W = x.size(3);
  g.O = w.size(0), g.kh = w.size(2), g.kw = w.size(3);
  g.G = p.groups, g.Cg = g.C / p.groups, g.Og = g.O / p.groups;
  g.OH = (g.H + 2 * p.pad_h - p.dilation_h * (g.kh - 1) - 1) / p.stride_h + 1;
  g.OW = (g.W + 2 * p.pad_w - p.dilation_w * (g.kw - 1) - 1) / p.stride_w + 1;
  g.K = g.Cg * g.kh * g.kw, g.P = g.OH * g.OW;
  g.sN = x.stride(0), g.sC = x.stride(1), g.sH = x.stride(2), g.sW = x.stride(3);
  g.p = p;
  return g;
}

// The weight as gemm reads it: the view itself when its rows are contiguous, else a packed copy.
struct WeightRows {
  Tensor keep;
  int64_t ld = 0;
};

WeightRows weight_rows(const Tensor& w, int64_t K) {
  if (rows_contiguous(w)) return {w, std::max<int64_t>(w.stride(0), 1)};
  return {w.contiguous(), K};
}

// The activations and weight in one compute dtype (bfloat16 widened to float32).
Tensor as_compute(const Tensor& t, DType compute) {
  Tensor w = widened(t);
  if (w.dtype() == compute) return w;
  Tensor c = Tensor::empty(t.shape(), compute);
  backend_of(t).copy(t, c);
  return c;
}

DType compute_dtype(const Tensor& act) { return act.dtype() == DType::F64 ? DType::F64 : DType::F32; }

// A contiguous output buffer for `out` (itself when it already is one of the compute dtype).
Tensor contiguous_output(const Tensor& out, DType compute) {
  if (out.is_contiguous() && out.dtype() == compute) return out;
  return Tensor::empty(out.shape(), compute);
}

}  // namespace

void CpuBackend::conv2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, const Conv2dParams& p,
                        const Tensor& y) {
  const DType ct = compute_dtype(x_in);
  Tensor x = as_compute(x_in, ct), w = as_compute(w_in, ct);
  Tensor bias = bias_in.defined() ? as_compute(bias_in, ct).contiguous() : Tensor();
  const ConvGeom g = make_geom(x, w, p);
  Tensor out = contiguous_output(y, ct);
  if (out.numel() > 0) {
    WeightRows wr = weight_rows(w, g.K);
    SLIMSSL_DISPATCH_FLOAT(ct, "conv2d", [&] {
      conv_forward<scalar_t>(g, x.data<scalar_t>(), wr.keep.data<scalar_t>(), wr.ld,
                             bias.defined() ? bias.data<scalar_t>() : nullptr, out.data<scalar_t>());
    });
  }
  if (!out.same(y)) copy(out, y);
}

void CpuBackend::conv2d_backward_data(const Tensor& gy_in, const Tensor& w_in, const Conv2dParams& p,
                                      const Tensor& dx_out) {
  const DType ct = compute_dtype(gy_in);
  Tensor gy = as_compute(gy_in, ct).contiguous(), w = as_compute(w_in, ct);
  // The input's geometry, as the forward saw it (only the shape matters here).
  Tensor dx = Tensor::zeros(dx_out.shape(), ct);
  const ConvGeom g = make_geom(dx, w, p);
  if (gy.numel() > 0) {
    WeightRows wr = weight_rows(w, g.K);
    SLIMSSL_DISPATCH_FLOAT(ct, "conv2d backward", [&] {
      conv_backward_data_impl<scalar_t>(g, wr.keep.data<scalar_t>(), wr.ld, gy.data<scalar_t>(), dx.data<scalar_t>());
    });
  }
  copy(dx, dx_out);
}

void CpuBackend::conv2d_backward_weight(const Tensor& x_in, const Tensor& gy_in, const Conv2dParams& p,
                                        const Tensor& dw) {
  const DType ct = compute_dtype(x_in);
  Tensor x = as_compute(x_in, ct), gy = as_compute(gy_in, ct).contiguous();
  const ConvGeom g = make_geom(x, dw, p);
  if (gy.numel() == 0) return;
  // Accumulate straight into dw when its rows are contiguous (a channel slice of the parent's
  // gradient is), else into a zeroed buffer that is added in afterwards.
  const bool direct = dw.dtype() == ct && rows_contiguous(dw);
  Tensor acc = direct ? dw : Tensor::zeros(dw.shape(), ct);
  const int64_t ld = direct ? std::max<int64_t>(dw.stride(0), 1) : g.K;
  SLIMSSL_DISPATCH_FLOAT(ct, "conv2d backward", [&] {
    conv_backward_weight_impl<scalar_t>(g, x.data<scalar_t>(), gy.data<scalar_t>(), acc.data<scalar_t>(), ld);
  });
  if (!direct) binary(BinaryOp::Add, dw, acc, dw, 1.0);
}

}  // namespace slimssl::cpu
