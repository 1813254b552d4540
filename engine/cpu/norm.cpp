// The CPU backend's batch norm and layer norm. Statistics and sums accumulate in double; the
// backward recomputes the normalized input from x, mean and invstd instead of keeping it.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include "engine/cpu/cpu_backend.h"
#include "engine/cpu/widen.h"

namespace slimssl::cpu {
namespace {

// A [N, C] or [N, C, H, W] tensor's element offsets, visited per channel.
struct Planes {
  int64_t N, C, H, W;
  int64_t sN, sC, sH, sW, base;
  explicit Planes(const Tensor& t)
      : N(t.size(0)), C(t.size(1)), H(t.dim() == 4 ? t.size(2) : 1), W(t.dim() == 4 ? t.size(3) : 1),
        sN(t.stride(0)), sC(t.stride(1)), sH(t.dim() == 4 ? t.stride(2) : 0), sW(t.dim() == 4 ? t.stride(3) : 0),
        base(t.offset()) {}
  int64_t count() const { return N * H * W; }
  int64_t at(int64_t n, int64_t c, int64_t h, int64_t w) const { return base + n * sN + c * sC + h * sH + w * sW; }
};

// How far a channel's positions run contiguously: whole (n, c) planes, rows along w, or single
// elements. Loops over runs keep the inner loops unit-stride, so they vectorize (omp simd lets
// the double sums be reassociated across lanes).
enum class Run { Element, Row, Plane };
Run run_of(const Planes& g) {
  const bool row = g.W == 1 || g.sW == 1;
  if (row && (g.H == 1 || g.sH == g.W)) return Run::Plane;
  return row ? Run::Row : Run::Element;
}
// The longest run every tensor allows.
Run common_run(std::initializer_list<Run> runs) { return std::min(runs); }

// Calls f(n, h, w, len) for the runs of `len` consecutive positions that cover a channel, in
// (n, h, w) order.
template <class F>
void for_runs(const Planes& g, Run run, F&& f) {
  for (int64_t n = 0; n < g.N; ++n) {
    if (run == Run::Plane) {
      f(n, int64_t{0}, int64_t{0}, g.H * g.W);
      continue;
    }
    for (int64_t h = 0; h < g.H; ++h) {
      if (run == Run::Row) {
        f(n, h, int64_t{0}, g.W);
        continue;
      }
      for (int64_t w = 0; w < g.W; ++w) f(n, h, w, int64_t{1});
    }
  }
}

template <class T>
const T* base_ptr(const Tensor& t) {
  return static_cast<const T*>(t.storage()->data);
}
template <class T>
T* base_mut(const Tensor& t) {
  return static_cast<T*>(t.storage()->data);
}
// Element c of a [C] parameter (any stride), or `fallback` when undefined.
template <class T>
double param(const Tensor& p, int64_t c, double fallback) {
  return p.defined() ? static_cast<double>(base_ptr<T>(p)[p.offset() + c * p.stride(0)]) : fallback;
}

template <class T>
void bn_stats(const Tensor& x, const Tensor& mean, const Tensor& var) {
  const Planes g(x);
  const Run run = run_of(g);
  const T* px = base_ptr<T>(x);
  T* pm = base_mut<T>(mean);
  T* pv = base_mut<T>(var);
#pragma omp parallel for if (g.C * g.count() > (1 << 15))
  for (int64_t c = 0; c < g.C; ++c) {
    double s = 0;
    for_runs(g, run, [&](int64_t n, int64_t h, int64_t w, int64_t len) {
      const T* p = px + g.at(n, c, h, w);
#pragma omp simd reduction(+ : s)
      for (int64_t i = 0; i < len; ++i) s += p[i];
    });
    const double m = s / static_cast<double>(g.count());
    double ss = 0;  // two passes: no cancellation
    for_runs(g, run, [&](int64_t n, int64_t h, int64_t w, int64_t len) {
      const T* p = px + g.at(n, c, h, w);
#pragma omp simd reduction(+ : ss)
      for (int64_t i = 0; i < len; ++i) {
        const double d = p[i] - m;
        ss += d * d;
      }
    });
    pm[mean.offset() + c * mean.stride(0)] = static_cast<T>(m);
    pv[var.offset() + c * var.stride(0)] = static_cast<T>(ss / static_cast<double>(g.count()));
  }
}

template <class T>
void bn_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w, const Tensor& b,
                const Tensor& y) {
  const Planes gx(x), gy(y);
  const Run run = common_run({run_of(gx), run_of(gy)});
  const T* px = base_ptr<T>(x);
  T* py = base_mut<T>(y);
#pragma omp parallel for if (gx.C * gx.count() > (1 << 15))
  for (int64_t c = 0; c < gx.C; ++c) {
    const double m = param<T>(mean, c, 0), is = param<T>(invstd, c, 1);
    const double scale = param<T>(w, c, 1.0) * is, shift = param<T>(b, c, 0.0);
    for_runs(gx, run, [&](int64_t n, int64_t h, int64_t wi, int64_t len) {
      const T* src = px + gx.at(n, c, h, wi);
      T* dst = py + gy.at(n, c, h, wi);
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) dst[i] = static_cast<T>((src[i] - m) * scale + shift);
    });
  }
}

template <class T>
void bn_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                 bool training, const Tensor& dx, const Tensor& dw, const Tensor& db) {
  const Planes gg(gy), gx(x);
  const Planes gd = dx.defined() ? Planes(dx) : gx;
  const Run run = common_run({run_of(gg), run_of(gx), run_of(gd)});
  const T* pg = base_ptr<T>(gy);
  const T* px = base_ptr<T>(x);
#pragma omp parallel for if (gx.C * gx.count() > (1 << 15))
  for (int64_t c = 0; c < gx.C; ++c) {
    const double m = param<T>(mean, c, 0), is = param<T>(invstd, c, 1);
    double sum_gy = 0, sum_gy_xc = 0;  // sum of gy, and of gy * (x - mean)
    for_runs(gx, run, [&](int64_t n, int64_t h, int64_t wi, int64_t len) {
      const T* g = pg + gg.at(n, c, h, wi);
      const T* xs = px + gx.at(n, c, h, wi);
#pragma omp simd reduction(+ : sum_gy, sum_gy_xc)
      for (int64_t i = 0; i < len; ++i) {
        const double gv = g[i];
        sum_gy += gv;
        sum_gy_xc += gv * (xs[i] - m);
      }
    });
    const double sum_gy_xhat = sum_gy_xc * is;
    if (dw.defined()) base_mut<T>(dw)[dw.offset() + c * dw.stride(0)] = static_cast<T>(sum_gy_xhat);
    if (db.defined()) base_mut<T>(db)[db.offset() + c * db.stride(0)] = static_cast<T>(sum_gy);
    if (!dx.defined()) continue;
    T* pd = base_mut<T>(dx);
    const double k = param<T>(w, c, 1.0) * is, M = static_cast<double>(gx.count());
    const double mean_gy = training ? sum_gy / M : 0.0, mean_gy_xhat = training ? sum_gy_xhat / M : 0.0;
    for_runs(gx, run, [&](int64_t n, int64_t h, int64_t wi, int64_t len) {
      const T* g = pg + gg.at(n, c, h, wi);
      const T* xs = px + gx.at(n, c, h, wi);
      T* d = pd + gd.at(n, c, h, wi);
#pragma omp simd
      for (int64_t i = 0; i < len; ++i) {
        const double xhat = (xs[i] - m) * is;
        d[i] = static_cast<T>(k * (g[i] - mean_gy - xhat * mean_gy_xhat));
      }
    });
  }
}

// ---------------- layer norm (contiguous rows) ----------------
template <class T>
void ln_forward(const T* x, int64_t rows, int64_t cols, double eps, const Tensor& w, const Tensor& b, T* y,
                T* mean, T* invstd) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    double s = 0, ss = 0;
    for (int64_t j = 0; j < cols; ++j) s += xr[j];
    const double m = s / static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) ss += (xr[j] - m) * (xr[j] - m);
    const double is = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    mean[r] = static_cast<T>(m);
    invstd[r] = static_cast<T>(is);
    for (int64_t j = 0; j < cols; ++j)
      y[r * cols + j] = static_cast<T>((xr[j] - m) * is * param<T>(w, j, 1.0) + param<T>(b, j, 0.0));
  }
}

template <class T>
void ln_backward_input(const T* gy, const T* x, const T* mean, const T* invstd, int64_t rows, int64_t cols,
                       const Tensor& w, T* dx) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = gy + r * cols;
    const T* xr = x + r * cols;
    const double m = mean[r], is = invstd[r];
    double sum_d = 0, sum_d_xhat = 0;  // d = gy * w, the gradient wrt xhat
    for (int64_t j = 0; j < cols; ++j) {
      const double d = g[j] * param<T>(w, j, 1.0);
      sum_d += d;
      sum_d_xhat += d * (xr[j] - m) * is;
    }
    const double n = static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) {
      const double d = g[j] * param<T>(w, j, 1.0);
      dx[r * cols + j] = static_cast<T>(is * (d - sum_d / n - (xr[j] - m) * is * sum_d_xhat / n));
    }
  }
}

// dw[j] = sum_r gy * xhat, db[j] = sum_r gy; columns split over threads so no reduction races.
template <class T>
void ln_backward_affine(const T* gy, const T* x, const T* mean, const T* invstd, int64_t rows, int64_t cols,
                        const Tensor& dw, const Tensor& db) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t j = 0; j < cols; ++j) {
    double a = 0, c = 0;
    for (int64_t r = 0; r < rows; ++r) {
      a += gy[r * cols + j] * (x[r * cols + j] - static_cast<double>(mean[r])) * static_cast<double>(invstd[r]);
      c += gy[r * cols + j];
    }
    if (dw.defined()) base_mut<T>(dw)[dw.offset() + j * dw.stride(0)] = static_cast<T>(a);
    if (db.defined()) base_mut<T>(db)[db.offset() + j * db.stride(0)] = static_cast<T>(c);
  }
}

}  // namespace

void CpuBackend::batch_norm_stats(const Tensor& x_in, const Tensor& mean, const Tensor& var) {
  Tensor x = widened(x_in);
  SLIMSSL_CHECK(mean.dtype() == x.dtype() && var.dtype() == x.dtype(), "batch_norm_stats: statistics must be ",
                dtype_name(x.dtype()));
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] { bn_stats<scalar_t>(x, mean, var); });
}

void CpuBackend::batch_norm_forward(const Tensor& x_in, const Tensor& mean, const Tensor& invstd, const Tensor& w,
                                    const Tensor& b, const Tensor& y_in) {
  Tensor x = widened(x_in), y = widened_output(y_in);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] { bn_forward<scalar_t>(x, mean, invstd, w, b, y); });
  narrow_back(y, y_in);
}

void CpuBackend::batch_norm_backward(const Tensor& gy_in, const Tensor& x_in, const Tensor& mean,
                                     const Tensor& invstd, const Tensor& w, bool training, const Tensor& dx_in,
                                     const Tensor& dw, const Tensor& db) {
  Tensor gy = widened(gy_in), x = widened(x_in), dx = widened_output(dx_in);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "batch_norm backward", [&] {
    bn_backward<scalar_t>(gy, x, mean, invstd, w, training, dx, dw, db);
  });
  narrow_back(dx, dx_in);
}

void CpuBackend::layer_norm_forward(const Tensor& x_in, const Tensor& w, const Tensor& b, double eps,
                                    const Tensor& y_in, const Tensor& mean, const Tensor& invstd) {
  Tensor x = widened(x_in).contiguous(), y = widened_output(y_in);
  // Contiguous buffers for the outputs that are not.
  auto dense = [](const Tensor& t) { return t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype()); };
  Tensor yc = dense(y), mc = dense(mean), ic = dense(invstd);
  const int64_t rows = x.size(0), cols = x.size(1);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "layer_norm", [&] {
    ln_forward<scalar_t>(x.data<scalar_t>(), rows, cols, eps, w, b, yc.data<scalar_t>(), mc.data<scalar_t>(),
                         ic.data<scalar_t>());
  });
  if (!mc.same(mean)) copy(mc, mean);
  if (!ic.same(invstd)) copy(ic, invstd);
  if (!yc.same(y)) copy(yc, y);
  narrow_back(y, y_in);
}

void CpuBackend::layer_norm_backward(const Tensor& gy_in, const Tensor& x_in, const Tensor& mean,
                                     const Tensor& invstd, const Tensor& w, const Tensor& dx_in, const Tensor& dw,
                                     const Tensor& db) {
  Tensor gy = widened(gy_in).contiguous(), x = widened(x_in).contiguous();
  const int64_t rows = x.size(0), cols = x.size(1);
  Tensor mc = mean.contiguous(), ic = invstd.contiguous();
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "layer_norm backward", [&] {
    const scalar_t* m = mc.data<scalar_t>();
    const scalar_t* is = ic.data<scalar_t>();
    if (dx_in.defined()) {
      Tensor dx = Tensor::empty(dx_in.shape(), x.dtype());
      ln_backward_input<scalar_t>(gy.data<scalar_t>(), x.data<scalar_t>(), m, is, rows, cols, w, dx.data<scalar_t>());
      copy(dx, dx_in);
    }
    if (dw.defined() || db.defined())
      ln_backward_affine<scalar_t>(gy.data<scalar_t>(), x.data<scalar_t>(), m, is, rows, cols, dw, db);
  });
}

}  // namespace slimssl::cpu
