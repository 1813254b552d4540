// Normalization and dropout on the CPU: batch_norm (training and eval), layer_norm, dropout.
// Statistics accumulate in double so the reference is never the noisy side of a comparison.
#include <cmath>
#include <memory>
#include <vector>
#include "engine/ops.h"
#include "engine/rng.h"

namespace slimssl {
namespace {

// ---------------- batch norm ----------------
// x viewed as [N, C, S] through strides (S = H*W, or 1 for [N, C] input): x[n, c, s] sits at
// n * sN + c * sC + (s / W) * sH + (s % W) * sW.
struct BnGeom {
  int64_t N, C, H, W;
  int64_t sN, sC, sH, sW;
  int64_t count() const { return N * H * W; }  // elements per channel
};

BnGeom bn_geom(const Tensor& x4) {
  return {x4.size(0), x4.size(1), x4.size(2), x4.size(3), x4.stride(0), x4.stride(1), x4.stride(2), x4.stride(3)};
}

// Visits channel c's elements in (n, h, w) order as f(input offset, dense index n*H*W + h*W + w).
template <class F>
void for_channel(const BnGeom& g, int64_t c, F&& f) {
  for (int64_t n = 0; n < g.N; ++n)
    for (int64_t h = 0; h < g.H; ++h)
      for (int64_t w = 0; w < g.W; ++w) f(n * g.sN + c * g.sC + h * g.sH + w * g.sW, (n * g.H + h) * g.W + w);
}

// Per-channel mean and biased variance of x.
template <class T>
void bn_stats(const BnGeom& g, const T* x, double* mean, double* var) {
#pragma omp parallel for if (g.C * g.count() > (1 << 15))
  for (int64_t c = 0; c < g.C; ++c) {
    double s = 0;
    for_channel(g, c, [&](int64_t o, int64_t) { s += x[o]; });
    double m = s / static_cast<double>(g.count()), ss = 0;
    for_channel(g, c, [&](int64_t o, int64_t) { ss += (x[o] - m) * (x[o] - m); });  // two-pass: no cancellation
    mean[c] = m;
    var[c] = ss / static_cast<double>(g.count());
  }
}

// y = (x - mean) * invstd * w + b, written contiguously in x's logical order. xhat keeps the
// normalized input ([N, C, H, W] contiguous) for the backward.
template <class T>
void bn_apply(const BnGeom& g, const T* x, const double* mean, const double* invstd, const T* w, const T* b,
              T* y, T* xhat) {
#pragma omp parallel for if (g.C * g.count() > (1 << 15))
  for (int64_t c = 0; c < g.C; ++c) {
    const double scale = w ? static_cast<double>(w[c]) : 1.0, shift = b ? static_cast<double>(b[c]) : 0.0;
    for_channel(g, c, [&](int64_t o, int64_t i) {
      int64_t dst = ((i / (g.H * g.W)) * g.C + c) * g.H * g.W + i % (g.H * g.W);
      double xh = (x[o] - mean[c]) * invstd[c];
      xhat[dst] = static_cast<T>(xh);
      y[dst] = static_cast<T>(xh * scale + shift);
    });
  }
}

// Gradients from gy and xhat (both contiguous [N, C, H, W]). Training mode differentiates through
// the batch statistics: dx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)).
template <class T>
void bn_backward(const BnGeom& g, const T* gy, const T* xhat, const double* invstd, const T* w, bool training,
                 T* dx, T* dw, T* db) {
  const int64_t S = g.H * g.W;
#pragma omp parallel for if (g.C * g.count() > (1 << 15))
  for (int64_t c = 0; c < g.C; ++c) {
    double sum_gy = 0, sum_gy_xhat = 0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * g.C + c) * S + s;
        sum_gy += gy[i];
        sum_gy_xhat += gy[i] * static_cast<double>(xhat[i]);
      }
    if (dw) dw[c] = static_cast<T>(sum_gy_xhat);
    if (db) db[c] = static_cast<T>(sum_gy);
    if (!dx) continue;
    const double k = (w ? static_cast<double>(w[c]) : 1.0) * invstd[c], M = static_cast<double>(g.count());
    const double mean_gy = training ? sum_gy / M : 0.0, mean_gy_xhat = training ? sum_gy_xhat / M : 0.0;
    for (int64_t n = 0; n < g.N; ++n)
      for (int64_t s = 0; s < S; ++s) {
        int64_t i = (n * g.C + c) * S + s;
        dx[i] = static_cast<T>(k * (gy[i] - mean_gy - xhat[i] * mean_gy_xhat));
      }
  }
}

void check_channel_param(const char* what, const Tensor& x, const Tensor& p) {
  if (!p.defined()) return;
  check_same("batch_norm", x, p, false);
  SLIMSSL_CHECK(p.dim() == 1 && p.size(0) == x.size(1), "batch_norm: ", what, " ", shape_str(p.shape()),
                " does not match the ", x.size(1), " channels of input ", shape_str(x.shape()));
}

// A [C] parameter as a contiguous tensor of x's dtype (null data when undefined).
Tensor channel_param(const Tensor& p, DType dtype) {
  return p.defined() ? p.detach().to(dtype).contiguous() : Tensor();
}

template <class T>
T* ptr_or_null(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

// ---------------- layer norm ----------------
// Rows [rows, cols] contiguous; normalizes each row; xhat and invstd kept for the backward.
template <class T>
void ln_forward(const T* x, int64_t rows, int64_t cols, double eps, const T* w, const T* b, T* y, T* xhat,
                double* invstd) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * cols;
    double s = 0, ss = 0;
    for (int64_t j = 0; j < cols; ++j) s += xr[j];
    const double m = s / static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) ss += (xr[j] - m) * (xr[j] - m);
    const double is = 1.0 / std::sqrt(ss / static_cast<double>(cols) + eps);
    invstd[r] = is;
    for (int64_t j = 0; j < cols; ++j) {
      double xh = (xr[j] - m) * is;
      double scale = w ? static_cast<double>(w[j]) : 1.0, shift = b ? static_cast<double>(b[j]) : 0.0;
      xhat[r * cols + j] = static_cast<T>(xh);
      y[r * cols + j] = static_cast<T>(xh * scale + shift);
    }
  }
}

template <class T>
void ln_backward_input(const T* gy, const T* xhat, const double* invstd, int64_t rows, int64_t cols, const T* w,
                       T* dx) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const T* g = gy + r * cols;
    const T* xh = xhat + r * cols;
    double sum_d = 0, sum_d_xhat = 0;  // d = gy * w, the gradient wrt xhat
    for (int64_t j = 0; j < cols; ++j) {
      double d = g[j] * (w ? static_cast<double>(w[j]) : 1.0);
      sum_d += d;
      sum_d_xhat += d * xh[j];
    }
    const double n = static_cast<double>(cols);
    for (int64_t j = 0; j < cols; ++j) {
      double d = g[j] * (w ? static_cast<double>(w[j]) : 1.0);
      dx[r * cols + j] = static_cast<T>(invstd[r] * (d - sum_d / n - xh[j] * sum_d_xhat / n));
    }
  }
}

// dw[j] = sum_r gy * xhat, db[j] = sum_r gy; columns split over threads so no reduction races.
template <class T>
void ln_backward_affine(const T* gy, const T* xhat, int64_t rows, int64_t cols, T* dw, T* db) {
#pragma omp parallel for if (rows * cols > (1 << 15))
  for (int64_t j = 0; j < cols; ++j) {
    double a = 0, c = 0;
    for (int64_t r = 0; r < rows; ++r) {
      a += gy[r * cols + j] * static_cast<double>(xhat[r * cols + j]);
      c += gy[r * cols + j];
    }
    if (dw) dw[j] = static_cast<T>(a);
    if (db) db[j] = static_cast<T>(c);
  }
}

// ---------------- dropout ----------------
// Element e (logical, row-major order) is kept iff its uniform >= p. Its uniform is draw e % 4 of
// RandomStream(seed, counter low, counter high, e / 4): one Philox block serves four elements,
// and the value depends on nothing but (seed, counter, e), on any device and any thread count.
template <class T>
void dropout_mask(int64_t n, double p, uint64_t seed, uint64_t counter, T* mask) {
  const T scale = static_cast<T>(1.0 / (1.0 - p));
  const int64_t blocks = (n + 3) / 4;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    RandomStream rs(seed, static_cast<uint32_t>(counter), static_cast<uint32_t>(counter >> 32),
                    static_cast<uint32_t>(blk));
    for (int64_t e = blk * 4; e < std::min(n, blk * 4 + 4); ++e)
      mask[e] = static_cast<double>(rs.uniform()) >= p ? scale : T(0);
  }
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum, double eps) {
  require_cpu("batch_norm", x);
  SLIMSSL_CHECK(x.dim() == 2 || x.dim() == 4, "batch_norm: expected input [N, C] or [N, C, H, W], got ",
                shape_str(x.shape()));
  check_channel_param("weight", x, weight);
  check_channel_param("bias", x, bias);
  check_channel_param("running_mean", x, running_mean);
  check_channel_param("running_var", x, running_var);
  SLIMSSL_CHECK(running_mean.defined() == running_var.defined(),
                "batch_norm: running_mean and running_var must be given together");
  SLIMSSL_CHECK(training || running_mean.defined(), "batch_norm: eval mode needs running statistics (input ",
                shape_str(x.shape()), ")");
  SLIMSSL_CHECK(eps > 0, "batch_norm: eps must be positive, got ", eps);

  Tensor x4 = x.dim() == 2 ? x.detach().unsqueeze(2).unsqueeze(3) : x.detach();
  BnGeom g = bn_geom(x4);
  SLIMSSL_CHECK(!training || g.count() > 1, "batch_norm: training needs more than one value per channel, input ",
                shape_str(x.shape()));
  Tensor w = channel_param(weight, x.dtype()), b = channel_param(bias, x.dtype());

  // Statistics: the batch's in training (and the running ones are updated), else the running ones.
  std::vector<double> mean(g.C), var(g.C);
  if (training) {
    SLIMSSL_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] { bn_stats(g, x4.data<scalar_t>(), mean.data(), var.data()); });
    if (running_mean.defined()) {  // buffers, updated in place and never recorded
      const double unbias = static_cast<double>(g.count()) / static_cast<double>(g.count() - 1);
      std::vector<double> unbiased(g.C);
      for (int64_t c = 0; c < g.C; ++c) unbiased[c] = var[c] * unbias;
      Tensor m = Tensor::from_vector(mean, {g.C}), v = Tensor::from_vector(unbiased, {g.C});
      running_mean.mul_(1.0 - momentum).add_(m, momentum);
      running_var.mul_(1.0 - momentum).add_(v, momentum);
    }
  } else {
    mean = running_mean.detach().to_vector<double>();
    var = running_var.detach().to_vector<double>();
  }
  auto invstd = std::make_shared<std::vector<double>>(g.C);
  for (int64_t c = 0; c < g.C; ++c) (*invstd)[c] = 1.0 / std::sqrt(var[c] + eps);

  Tensor out = Tensor::empty(x.shape(), x.dtype()), xhat = Tensor::empty(x.shape(), x.dtype());
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    bn_apply(g, x4.data<scalar_t>(), mean.data(), invstd->data(), ptr_or_null<scalar_t>(w), ptr_or_null<scalar_t>(b),
             out.data<scalar_t>(), xhat.data<scalar_t>());
  });
  return record("batch_norm", out, {x, weight, bias},
                [g, xhat, invstd, w, training, wshape = weight.defined() ? weight.shape() : Shape{},
                 wdtype = weight.defined() ? weight.dtype() : x.dtype(),
                 bdtype = bias.defined() ? bias.dtype() : x.dtype(), has_w = weight.defined(),
                 has_b = bias.defined()](const Tensor& gy_in, GradSink& s) {
                  Tensor gy = gy_in.contiguous();
                  bool need_x = s.needs(0), need_w = has_w && s.needs(1), need_b = has_b && s.needs(2);
                  Tensor dx = need_x ? Tensor::empty(gy.shape(), gy.dtype()) : Tensor();
                  Tensor dw = need_w ? Tensor::empty({g.C}, gy.dtype()) : Tensor();
                  Tensor db = need_b ? Tensor::empty({g.C}, gy.dtype()) : Tensor();
                  SLIMSSL_DISPATCH_FLOAT(gy.dtype(), "batch_norm backward", [&] {
                    bn_backward(g, gy.data<scalar_t>(), xhat.data<scalar_t>(), invstd->data(),
                                ptr_or_null<scalar_t>(w), training, ptr_or_null<scalar_t>(dx),
                                ptr_or_null<scalar_t>(dw), ptr_or_null<scalar_t>(db));
                  });
                  if (need_x) s.add(0, dx);
                  if (need_w) s.add(1, dw.to(wdtype));
                  if (need_b) s.add(2, db.to(bdtype));
                });
}

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims, double eps) {
  require_cpu("layer_norm", x);
  SLIMSSL_CHECK(normalized_dims >= 1 && normalized_dims <= x.dim(), "layer_norm: cannot normalize over the last ",
                normalized_dims, " dims of input ", shape_str(x.shape()));
  SLIMSSL_CHECK(eps > 0, "layer_norm: eps must be positive, got ", eps);
  Shape norm_shape(x.shape().end() - normalized_dims, x.shape().end());
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    check_same("layer_norm", x, *p);
    SLIMSSL_CHECK(p->shape() == norm_shape, "layer_norm: weight/bias ", shape_str(p->shape()),
                  " must match the normalized shape ", shape_str(norm_shape), " of input ", shape_str(x.shape()));
  }
  const int64_t cols = numel_of(norm_shape), rows = cols == 0 ? 0 : x.numel() / cols;
  SLIMSSL_CHECK(cols > 0, "layer_norm: empty normalized shape ", shape_str(norm_shape));
  Tensor x2 = x.detach().contiguous();
  Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
  Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor out = Tensor::empty(x.shape(), x.dtype()), xhat = Tensor::empty(x.shape(), x.dtype());
  auto invstd = std::make_shared<std::vector<double>>(rows);
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "layer_norm", [&] {
    ln_forward(x2.data<scalar_t>(), rows, cols, eps, ptr_or_null<scalar_t>(w), ptr_or_null<scalar_t>(b),
               out.data<scalar_t>(), xhat.data<scalar_t>(), invstd->data());
  });
  return record("layer_norm", out, {x, weight, bias},
                [xhat, invstd, w, rows, cols, norm_shape, has_w = weight.defined(), has_b = bias.defined()](
                    const Tensor& gy_in, GradSink& s) {
                  Tensor gy = gy_in.contiguous();
                  bool need_w = has_w && s.needs(1), need_b = has_b && s.needs(2);
                  SLIMSSL_DISPATCH_FLOAT(gy.dtype(), "layer_norm backward", [&] {
                    if (s.needs(0)) {
                      Tensor dx = Tensor::empty(gy.shape(), gy.dtype());
                      ln_backward_input(gy.data<scalar_t>(), xhat.data<scalar_t>(), invstd->data(), rows, cols,
                                        ptr_or_null<scalar_t>(w), dx.data<scalar_t>());
                      s.add(0, dx);
                    }
                    if (need_w || need_b) {
                      Tensor dw = Tensor::empty(norm_shape, gy.dtype()), db = Tensor::empty(norm_shape, gy.dtype());
                      ln_backward_affine(gy.data<scalar_t>(), xhat.data<scalar_t>(), rows, cols,
                                         need_w ? dw.data<scalar_t>() : nullptr,
                                         need_b ? db.data<scalar_t>() : nullptr);
                      if (need_w) s.add(1, dw);
                      if (need_b) s.add(2, db);
                    }
                  });
                });
}

Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t counter) {
  require_cpu("dropout", x);
  SLIMSSL_CHECK(p >= 0.0 && p < 1.0, "dropout: probability must be in [0, 1), got ", p, " (input ",
                shape_str(x.shape()), ")");
  if (!training || p == 0.0) return x;
  Tensor mask = Tensor::empty(x.shape(), x.dtype());  // 0 or 1/(1-p), in x's logical order
  SLIMSSL_DISPATCH_FLOAT(x.dtype(), "dropout", [&] {
    dropout_mask(mask.numel(), p, seed, counter, mask.data<scalar_t>());
  });
  Tensor out = mul(x.detach(), mask);
  return record("dropout", out, {x}, [mask](const Tensor& g, GradSink& s) { s.add(0, mul(g, mask)); });
}

}  // namespace slimssl
