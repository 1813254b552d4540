// The CPU backend's convolution: im2col followed by one cpu::gemm per block of images and group.
//
// The weight is read through its strides. A channel slice W[:k_out, :k_in] of a contiguous
// [O, C, kh, kw] weight still has each output row's (C/groups, kh, kw) block contiguous, only the
// row pitch (stride(0)) is the parent's: gemm takes that pitch as its leading dimension, so the
// slice is never copied.
//
// Column layout: col[K, B * P] (K = C/groups*kh*kw, P = OH*OW) holds B images side by side, so a
// small map (7x7: 49 pixels, which pads to 64 columns of register tiles alone) still gives gemm a
// wide n. The passes:
//   forward          out[Og, B*P]  = W[Og, K] @ col               (rows stream through col)
//   weight gradient  dW^T[K, Og]  += col @ gyT[B*P, Og]            (col read in place as gemm's A:
//                    the other orientation would make gemm transpose col while packing it)
//   data gradient    stride 1: a forward conv of gy with the flipped, transposed weight (no col2im);
//                    strided: dcol[K, P] = W^T @ gy folded back with col2im.
#include <omp.h>
#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/gemm.h"
#include "engine/cpu/scratch.h"
#include "engine/cpu/winograd.h"
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

// dst[0, n) = src[0, n) as 32-byte vector moves. Not std::copy: glibc's memmove switches to
// `rep movsb` from 2 KiB on, which on this machine (AMD EPYC) ran at ~3 bytes a cycle for these
// copies, whose source and destination are misaligned against each other by the kernel tap;
// im2col took 60% as long as the gemm after it. (no-tree-loop-distribute-patterns keeps GCC
// from turning the loop back into a memmove call.)
#if defined(__clang__)
#define SLIMSSL_KEEP_COPY_LOOP  // clang has no per-function optimize attribute (its builds are the sanitizer ones)
#else
#define SLIMSSL_KEEP_COPY_LOOP [[gnu::optimize("no-tree-loop-distribute-patterns")]]
#endif
template <class T>
SLIMSSL_KEEP_COPY_LOOP void copy_run(const T* src, int64_t n, T* dst) {
  int64_t i = 0;
  if constexpr (std::is_same_v<T, float>) {
    // Its own vector type, not vec8.h's helpers: a function with another optimize attribute may
    // not inline them, and a call per 8 floats would undo the point.
    typedef float vec8 __attribute__((vector_size(32)));
    for (; i + 8 <= n; i += 8) {
      vec8 v;
      std::memcpy(&v, src + i, sizeof v);
      std::memcpy(dst + i, &v, sizeof v);
    }
  }
  for (; i < n; ++i) dst[i] = src[i];
}

// Stride 1 over contiguous planes with the output as large as the input ("same" padding): each
// row of the column matrix is the input plane shifted by a constant, so it is one long copy, and
// only the positions that wrapped around a row edge or fell off the top or bottom are zeroed after
// (a 7-pixel map would otherwise be copied 7 floats at a time).
bool shifted_planes(const ConvGeom& g) {
  const auto& p = g.p;
  return p.stride_h == 1 && p.stride_w == 1 && g.OW == g.W && g.OH == g.H && g.sW == 1 && g.sH == g.W;
}

template <class T>
void im2col_shifted(const ConvGeom& g, const T* x, int64_t group, T* dst, int64_t sk) {
  const auto& p = g.p;
  const int64_t plane = g.H * g.W;
  for (int64_t c = 0; c < g.Cg; ++c) {
    const T* xc = x + (group * g.Cg + c) * g.sC;
    for (int64_t ki = 0; ki < g.kh; ++ki) {
      const int64_t dy = ki * p.dilation_h - p.pad_h;
      const int64_t oh_lo = std::clamp<int64_t>(-dy, 0, g.OH), oh_hi = std::clamp<int64_t>(g.H - dy, oh_lo, g.OH);
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* d = dst + ((c * g.kh + ki) * g.kw + kj) * sk;
        const int64_t dx = kj * p.dilation_w - p.pad_w, shift = dy * g.W + dx;
        std::fill(d, d + oh_lo * g.OW, T(0));
        std::fill(d + oh_hi * g.OW, d + g.P, T(0));
        // Output position q reads input q + shift; clamped to the plane, the positions cut off
        // are all in wrapped columns, zeroed below.
        const int64_t q0 = std::max(oh_lo * g.W, -shift), q1 = std::min(oh_hi * g.W, plane - shift);
        if (q1 > q0) copy_run(xc + q0 + shift, q1 - q0, d + q0);
        int64_t lo, hi;
        valid_range(dx, 1, g.W, g.OW, lo, hi);
        // Column by column: a row's wrapped part is one or two elements, too short for a fill.
        for (int64_t ow = 0; ow < lo; ++ow)
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) d[oh * g.OW + ow] = T(0);
        for (int64_t ow = hi; ow < g.OW; ++ow)
          for (int64_t oh = oh_lo; oh < oh_hi; ++oh) d[oh * g.OW + ow] = T(0);
      }
    }
  }
}

// Unfolds group g of one image (x points at the image) into dst[kk * sk + pix * sp]; (sk, sp) =
// (P, 1) gives col[K, P], (1, K) gives colT[P, K]. Padding reads as zero.
template <class T>
void im2col(const ConvGeom& g, const T* x, int64_t group, T* dst, int64_t sk, int64_t sp) {
  const auto& p = g.p;
  if (sp == 1 && shifted_planes(g)) return im2col_shifted(g, x, group, dst, sk);
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

// Images side by side in one column matrix: enough for gemm's pixel dimension to fill its
// register tiles (16 columns) with little padding; one image when the input is its own columns.
int64_t images_per_gemm(const ConvGeom& g) {
  constexpr int64_t kMinColumns = 256;
  if (input_is_columns(g)) return 1;
  return std::clamp<int64_t>((kMinColumns + g.P - 1) / g.P, 1, std::max<int64_t>(g.N, 1));
}

// One task: `count` images from `first`, one group.
struct Task {
  int64_t first, count, group;
};
Task task_of(const ConvGeom& g, int64_t nb, int64_t t) {
  const int64_t first = (t / g.G) * nb;
  return {first, std::min(nb, g.N - first), t % g.G};
}

// Fills col[K, ld] with the task's images side by side (columns i*P.. of image i) and returns it,
// or returns the input itself (through *ld) when it is its own column matrix.
template <class T>
const T* columns_of(const ConvGeom& g, const T* x, const Task& k, T* col, int64_t& ld) {
  if (input_is_columns(g)) {
    ld = g.sC;
    return x + k.first * g.sN + k.group * g.Cg * g.sC;
  }
  for (int64_t i = 0; i < k.count; ++i) im2col(g, x + (k.first + i) * g.sN, k.group, col + i * g.P, ld, 1);
  return col;
}

// The Winograd path's description of g (winograd.h) when it can run g: a 3x3, stride-1,
// undilated, ungrouped conv whose input rows are contiguous (the callers add: float32). Whether
// it should is winograd_pays.
bool winograd_shape(const ConvGeom& g, Winograd3x3& s) {
  const auto& p = g.p;
  if (g.kh != 3 || g.kw != 3 || p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 || p.dilation_w != 1 ||
      g.G != 1 || (g.W > 1 && g.sW != 1))
    return false;
  s = {g.N, g.C, g.H, g.W, g.O, g.OH, g.OW, p.pad_h, p.pad_w, g.sN, g.sC, g.sH};
  return true;
}

// Whether the data gradient of g runs by Winograd: its own conv (gy with the flipped weight,
// padding 2 - pad) must take that path. s describes g itself.
bool winograd_data_gradient(const ConvGeom& g, Winograd3x3& s) {
  return g.p.pad_h <= 2 && g.p.pad_w <= 2 && winograd_shape(g, s) && winograd_pays(data_gradient_shape(s));
}

template <class T>
void conv_forward(const ConvGeom& g, const T* x, const T* w, int64_t ldw, const T* bias, T* y) {
  if constexpr (std::is_same_v<T, float>) {
    Winograd3x3 s;
    if (winograd_shape(g, s) && winograd_pays(s)) return winograd_forward(s, x, w, ldw, bias, y);
  }
  const int64_t nb = images_per_gemm(g), cols = nb * g.P;
  const int64_t tasks = (g.N + nb - 1) / nb * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    T* col = input_is_columns(g) ? nullptr : scratch<T>(0, g.K * cols);
    T* out = nb > 1 ? scratch<T>(1, g.Og * cols) : nullptr;
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const Task k = task_of(g, nb, t);
      int64_t ldb = cols;
      const T* b = columns_of(g, x, k, col, ldb);
      const T* wg = w + k.group * g.Og * ldw;
      T* yo = y + (k.first * g.O + k.group * g.Og) * g.P;
      if (nb == 1) {
        if (bias) {
          for (int64_t o = 0; o < g.Og; ++o) std::fill(yo + o * g.P, yo + (o + 1) * g.P, bias[k.group * g.Og + o]);
        }
        cpu::gemm(false, false, g.Og, g.P, g.K, T(1), wg, ldw, b, ldb, bias ? T(1) : T(0), yo, g.P);
        continue;
      }
      // out[Og, count*P], then each image's block to its place in y (plus the bias).
      cpu::gemm(false, false, g.Og, k.count * g.P, g.K, T(1), wg, ldw, b, ldb, T(0), out, cols);
      for (int64_t i = 0; i < k.count; ++i) {
        for (int64_t o = 0; o < g.Og; ++o) {
          const T* src = out + o * cols + i * g.P;
          T* dst = yo + (i * g.O + o) * g.P;
          const T add = bias ? bias[k.group * g.Og + o] : T(0);
          for (int64_t q = 0; q < g.P; ++q) dst[q] = src[q] + add;
        }
      }
    }
  }
}

// A stride-1 convolution's data gradient is itself a stride-1 convolution: of gy, padded by
// dilation*(k-1) - pad, with the weight flipped in space and its in/out channels swapped
// (wt[c, o, kh-1-i, kw-1-j] = w[o, c, i, j] within each group). Needs that padding >= 0.
bool data_gradient_is_conv(const ConvGeom& g) {
  const auto& p = g.p;
  return p.stride_h == 1 && p.stride_w == 1 && p.pad_h <= p.dilation_h * (g.kh - 1) &&
         p.pad_w <= p.dilation_w * (g.kw - 1);
}

// The geometry of that convolution: input gy (contiguous [N, O, OH, OW]), output [N, C, H, W].
ConvGeom data_gradient_geom(const ConvGeom& g) {
  ConvGeom t = g;
  t.C = g.O, t.H = g.OH, t.W = g.OW;
  t.O = g.C, t.OH = g.H, t.OW = g.W;
  t.Cg = g.Og, t.Og = g.Cg;
  t.K = g.Og * g.kh * g.kw, t.P = g.H * g.W;
  t.sW = 1, t.sH = g.OW, t.sC = g.OH * g.OW, t.sN = g.O * g.OH * g.OW;
  t.p.pad_h = g.p.dilation_h * (g.kh - 1) - g.p.pad_h;
  t.p.pad_w = g.p.dilation_w * (g.kw - 1) - g.p.pad_w;
  return t;
}

// wt [C, Og, kh, kw] (contiguous) from w [O, Cg, kh, kw] (rows of pitch ldw).
template <class T>
std::vector<T> flipped_transposed(const ConvGeom& g, const T* w, int64_t ldw) {
  std::vector<T> wt(static_cast<size_t>(g.C * g.Og * g.kh * g.kw));
  const int64_t khw = g.kh * g.kw;
  for (int64_t grp = 0; grp < g.G; ++grp)
    for (int64_t o = 0; o < g.Og; ++o)
      for (int64_t c = 0; c < g.Cg; ++c)
        for (int64_t q = 0; q < khw; ++q)
          wt[((grp * g.Cg + c) * g.Og + o) * khw + (khw - 1 - q)] = w[(grp * g.Og + o) * ldw + c * khw + q];
  return wt;
}

// dx (contiguous; zero-filled unless the data gradient is a convolution, which overwrites it) from
// gy (contiguous [N, O, P]).
template <class T>
void conv_backward_data_impl(const ConvGeom& g, const T* w, int64_t ldw, const T* gy, T* dx) {
  if constexpr (std::is_same_v<T, float>) {
    Winograd3x3 s;
    if (winograd_data_gradient(g, s)) return winograd_backward_data(s, gy, w, ldw, dx);
  }
  if (data_gradient_is_conv(g)) {
    const ConvGeom t = data_gradient_geom(g);
    const std::vector<T> wt = flipped_transposed(g, w, ldw);
    return conv_forward(t, gy, wt.data(), t.K, static_cast<const T*>(nullptr), dx);
  }
  const int64_t tasks = g.N * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    T* col = scratch<T>(0, g.K * g.P);
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const int64_t n = t / g.G, grp = t % g.G;
      const T* gyo = gy + (n * g.O + grp * g.Og) * g.P;
      // dcol[K, P] = W[Og, K]^T @ gy[Og, P], folded back into the image.
      cpu::gemm(true, false, g.K, g.P, g.Og, T(1), w + grp * g.Og * ldw, ldw, gyo, g.P, T(0), col, g.P);
      col2im(g, col, g.P, 1, grp, dx + n * g.C * g.H * g.W);
    }
  }
}

// dw[o * lddw + k] += dW[o, k]. Each thread accumulates dW^T [G][K, Og] privately; the sums are
// added into dw at the end.
template <class T>
void conv_backward_weight_impl(const ConvGeom& g, const T* x, const T* gy, T* dw, int64_t lddw) {
  if constexpr (std::is_same_v<T, float>) {
    Winograd3x3 s;
    if (winograd_shape(g, s) && winograd_pays(s, true)) return winograd_backward_weight(s, x, gy, dw, lddw);
  }
  const int64_t nb = images_per_gemm(g), cols = nb * g.P;
  const int64_t tasks = (g.N + nb - 1) / nb * g.G;
#pragma omp parallel if (outer_parallel(g))
  {
    T* col = input_is_columns(g) ? nullptr : scratch<T>(0, g.K * cols);
    T* gyt = scratch<T>(1, cols * g.Og);
    std::vector<T> acc(static_cast<size_t>(g.G * g.K * g.Og), T(0));
#pragma omp for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) {
      const Task k = task_of(g, nb, t);
      int64_t lda = cols;
      const T* a = columns_of(g, x, k, col, lda);
      // gyT[i*P + q, o] = gy[first + i, group*Og + o, q]: small (Og rows per image) next to col.
      for (int64_t i = 0; i < k.count; ++i)
        for (int64_t o = 0; o < g.Og; ++o) {
          const T* src = gy + ((k.first + i) * g.O + k.group * g.Og + o) * g.P;
          T* dst = gyt + i * g.P * g.Og + o;
          for (int64_t q = 0; q < g.P; ++q) dst[q * g.Og] = src[q];
        }
      cpu::gemm(false, false, g.K, g.Og, k.count * g.P, T(1), a, lda, gyt, g.Og, T(1),
                acc.data() + k.group * g.K * g.Og, g.Og);
    }
#pragma omp critical(slimssl_conv_dw)
    for (int64_t grp = 0; grp < g.G; ++grp)
      for (int64_t o = 0; o < g.Og; ++o)
        for (int64_t kk = 0; kk < g.K; ++kk)
          dw[(grp * g.Og + o) * lddw + kk] += acc[(grp * g.K + kk) * g.Og + o];
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
  Tensor dx = contiguous_output(dx_out, ct);
  const ConvGeom g = make_geom(dx, w, p);
  if (!data_gradient_is_conv(g) || gy.numel() == 0) fill(dx, 0.0);  // col2im adds into it
  if (gy.numel() > 0) {
    WeightRows wr = weight_rows(w, g.K);
    SLIMSSL_DISPATCH_FLOAT(ct, "conv2d backward", [&] {
      conv_backward_data_impl<scalar_t>(g, wr.keep.data<scalar_t>(), wr.ld, gy.data<scalar_t>(), dx.data<scalar_t>());
    });
  }
  if (!dx.same(dx_out)) copy(dx, dx_out);
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
