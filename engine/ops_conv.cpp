// conv2d on the CPU: im2col per (image, group) followed by one cpu::gemm.
//
// The weight is read through its strides. A channel slice W[:k_out, :k_in] of a contiguous
// [O, C, kh, kw] weight still has each output row's (C/groups, kh, kw) block contiguous, only the
// row pitch (stride(0)) is the parent's: gemm takes that pitch as its leading dimension, so the
// slice is never copied. Its gradient is sent with the slice's shape and the autograd engine adds
// it into the matching region of the parent's .grad.
//
// Column layouts: the forward builds col[K, P] (K = C/groups*kh*kw, P = OH*OW) so that
// out[Og, P] = W[Og, K] @ col streams rows; the backward builds colT[P, K] so that
// dW[Og, K] += gy[Og, P] @ colT and dcolT[P, K] = gy^T @ W both stream rows as well.
#include <omp.h>
#include <algorithm>
#include <vector>
#include "engine/cpu/gemm.h"
#include "engine/ops.h"

namespace slimssl {
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

// The weight as gemm reads it: the view itself when its rows are contiguous, else a packed copy.
struct WeightRows {
  Tensor keep;
  int64_t ld = 0;
};

WeightRows weight_rows(const Tensor& w, int64_t K) {
  if (rows_contiguous(w)) return {w, std::max<int64_t>(w.stride(0), 1)};
  return {w.contiguous(), K};
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
void conv_backward(const ConvGeom& g, const T* x, const T* w, int64_t ldw, const T* gy, T* dx, T* dw) {
  const int64_t tasks = g.N * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    const bool alone = omp_get_num_threads() == 1;
    std::vector<T> col(g.K * g.P), dw_private(dw && !alone ? g.O * g.K : 0, T(0));
    T* dw_acc = alone ? dw : dw_private.data();
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / g.G, grp = t % g.G;
      const T* gyo = gy + (n * g.O + grp * g.Og) * g.P;
      if (dw) {
        // dW[Og, K] += gy[Og, P] @ col[K, P]^T; col in [K, P] layout keeps im2col's writes contiguous.
        im2col(g, x + n * g.sN, grp, col.data(), g.P, 1);
        cpu::gemm(false, true, g.Og, g.K, g.P, T(1), gyo, g.P, col.data(), g.P, T(1), dw_acc + grp * g.Og * g.K, g.K);
      }
      if (dx) {
        // dcol[K, P] = W[Og, K]^T @ gy[Og, P]; reuses col's buffer (its use above is finished).
        cpu::gemm(true, false, g.K, g.P, g.Og, T(1), w + grp * g.Og * ldw, ldw, gyo, g.P, T(0), col.data(), g.P);
        col2im(g, col.data(), g.P, 1, grp, dx + n * g.C * g.H * g.W);
      }
    }
    if (dw && !alone) {
#pragma omp critical(slimssl_conv_dw)
      for (int64_t i = 0; i < g.O * g.K; ++i) dw[i] += dw_private[i];
    }
  }
}

template <class T>
void bias_backward(const T* gy, int64_t N, int64_t O, int64_t P, T* db) {
#pragma omp parallel for if (N * O * P > (1 << 16))
  for (int64_t o = 0; o < O; ++o) {
    double acc = 0;
    for (int64_t n = 0; n < N; ++n) {
      const T* r = gy + (n * O + o) * P;
      for (int64_t i = 0; i < P; ++i) acc += r[i];
    }
    db[o] = static_cast<T>(acc);
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

void check_conv_args(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_same("conv2d", x, w);
  require_cpu("conv2d", x);
  SLIMSSL_CHECK(x.dim() == 4 && w.dim() == 4,
                "conv2d: expected input [N, C, H, W] and weight [O, C/groups, kh, kw], got ",
                shape_str(x.shape()), " and ", shape_str(w.shape()));
  SLIMSSL_CHECK(p.stride_h > 0 && p.stride_w > 0 && p.dilation_h > 0 && p.dilation_w > 0 && p.pad_h >= 0 &&
                    p.pad_w >= 0 && p.groups > 0,
                "conv2d: stride and dilation must be positive, padding non-negative, groups positive (stride ",
                p.stride_h, "x", p.stride_w, ", pad ", p.pad_h, "x", p.pad_w, ", dilation ", p.dilation_h, "x",
                p.dilation_w, ", groups ", p.groups, ")");
  SLIMSSL_CHECK(x.size(1) % p.groups == 0 && w.size(0) % p.groups == 0 && w.size(0) > 0,
                "conv2d: input channels ", x.size(1), " and output channels ", w.size(0),
                " must both be positive multiples of groups ", p.groups, " (input ", shape_str(x.shape()),
                ", weight ", shape_str(w.shape()), ")");
  SLIMSSL_CHECK(w.size(1) == x.size(1) / p.groups && w.size(1) > 0, "conv2d: weight ", shape_str(w.shape()),
                " expects ", w.size(1) * p.groups, " input channels with groups ", p.groups, ", input is ",
                shape_str(x.shape()));
  int64_t eff_h = p.dilation_h * (w.size(2) - 1) + 1, eff_w = p.dilation_w * (w.size(3) - 1) + 1;
  SLIMSSL_CHECK(x.size(2) + 2 * p.pad_h >= eff_h && x.size(3) + 2 * p.pad_w >= eff_w, "conv2d: padded input ",
                x.size(2) + 2 * p.pad_h, "x", x.size(3) + 2 * p.pad_w, " is smaller than the dilated kernel ",
                eff_h, "x", eff_w, " (input ", shape_str(x.shape()), ", weight ", shape_str(w.shape()), ")");
  if (bias.defined()) {
    check_same("conv2d", x, bias);
    SLIMSSL_CHECK(bias.dim() == 1 && bias.size(0) == w.size(0), "conv2d: bias ", shape_str(bias.shape()),
                  " does not match weight ", shape_str(w.shape()));
  }
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p) {
  check_conv_args(x, w, bias, p);
  const ConvGeom g = make_geom(x, w, p);
  Tensor out = Tensor::empty({g.N, g.O, g.OH, g.OW}, x.dtype());
  if (out.numel() > 0) {
    Tensor xd = x.detach();
    WeightRows wr = weight_rows(w.detach(), g.K);
    Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
    SLIMSSL_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
      conv_forward<scalar_t>(g, xd.data<scalar_t>(), wr.keep.data<scalar_t>(), wr.ld,
                             b.defined() ? b.data<scalar_t>() : nullptr, out.data<scalar_t>());
    });
  }
  return record("conv2d", out, {x, w, bias},
                [x_ = x.detach(), w_ = w.detach(), g, has_bias = bias.defined()](const Tensor& gy_in, GradSink& s) {
                  const bool need_x = s.needs(0), need_w = s.needs(1), need_b = has_bias && s.needs(2);
                  Tensor gy = gy_in.contiguous();
                  if (need_b) {
                    Tensor db = Tensor::empty({g.O}, gy.dtype());
                    SLIMSSL_DISPATCH_FLOAT(gy.dtype(), "conv2d backward", [&] {
                      bias_backward(gy.data<scalar_t>(), g.N, g.O, g.P, db.data<scalar_t>());
                    });
                    s.add(2, db);
                  }
                  if (!need_x && !need_w) return;
                  Tensor dx = need_x ? Tensor::zeros({g.N, g.C, g.H, g.W}, x_.dtype()) : Tensor();
                  Tensor dw = need_w ? Tensor::zeros({g.O, g.Cg, g.kh, g.kw}, w_.dtype()) : Tensor();
                  if (gy.numel() > 0) {
                    WeightRows wr = weight_rows(w_, g.K);
                    SLIMSSL_DISPATCH_FLOAT(gy.dtype(), "conv2d backward", [&] {
                      conv_backward<scalar_t>(g, x_.data<scalar_t>(), wr.keep.data<scalar_t>(), wr.ld,
                                              gy.data<scalar_t>(), need_x ? dx.data<scalar_t>() : nullptr,
                                              need_w ? dw.data<scalar_t>() : nullptr);
                    });
                  }
                  if (need_x) s.add(0, dx);
                  if (need_w) s.add(1, dw);  // routed into the parent's .grad region for a slice
                });
}

}  // namespace slimssl
