#include "ssl/eval/tsne.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#include "engine/ops.h"
#include "engine/rng.h"
#include "ssl/eval/features.h"

namespace slimssl::eval {
namespace {

// Squared Euclidean distances [n, n] in double from one Gram matrix.
std::vector<double> squared_distances(const Tensor& x) {
  int64_t n = x.size(0);
  Tensor x64 = x.to(DType::F64).contiguous();
  Tensor gram = matmul(x64, x64.t()).contiguous();
  const double* g = gram.data<double>();
  std::vector<double> d(n * n);
#pragma omp parallel for if (n > 256)
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) d[i * n + j] = i == j ? 0.0 : std::max(0.0, g[i * n + i] + g[j * n + j] - 2 * g[i * n + j]);
  return d;
}

// Row i of P_j|i = exp(-beta d_ij) / Z for the beta whose entropy equals log(perplexity), by
// bisection on beta (geometric steps until the bracket closes). Distances are shifted by the
// row's smallest off-diagonal one, which cancels in the normalization and keeps exp in range.
void conditional_row(const double* d, double* p, int64_t n, int64_t i, double perplexity) {
  double dmin = std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < n; ++j)
    if (j != i) dmin = std::min(dmin, d[j]);
  double target = std::log(perplexity);
  double beta = 1.0, lo = 0.0, hi = std::numeric_limits<double>::infinity();
  // Start from a scale matched to the data: beta = 1 / (mean shifted distance).
  double mean = 0;
  for (int64_t j = 0; j < n; ++j)
    if (j != i) mean += d[j] - dmin;
  mean /= std::max<int64_t>(1, n - 1);
  if (mean > 0) beta = 1.0 / mean;
  for (int it = 0; it < 200; ++it) {
    double z = 0, dot = 0;
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) { p[j] = 0; continue; }
      double shifted = d[j] - dmin;
      p[j] = std::exp(-beta * shifted);
      z += p[j];
      dot += p[j] * shifted;
    }
    // H = log Z + beta * E[d] (natural log), for the shifted distances.
    double h = std::log(z) + beta * dot / z;
    for (int64_t j = 0; j < n; ++j) p[j] /= z;
    if (std::abs(h - target) < 1e-5) break;
    if (h > target) {  // too flat: sharpen
      lo = beta;
      beta = std::isinf(hi) ? beta * 2 : 0.5 * (beta + hi);
    } else {
      hi = beta;
      beta = 0.5 * (beta + lo);
    }
  }
}

}  // namespace

Tensor tsne(const Tensor& features, const TsneConfig& cfg) {
  const char* op = "tsne";
  Tensor x = host_features(op, features);
  int64_t n = x.size(0);
  SLIMSSL_CHECK(n >= 2, op, ": needs at least two points, got ", shape_str(x.shape()));
  SLIMSSL_CHECK(n <= cfg.max_points, op, ": exact t-SNE is O(N^2); ", n, " points exceed max_points = ",
                cfg.max_points, " (subsample first)");
  SLIMSSL_CHECK(cfg.perplexity > 0 && cfg.perplexity < n, op, ": perplexity ", cfg.perplexity,
                " must be in (0, N = ", n, ")");
  SLIMSSL_CHECK(cfg.iterations >= 1, op, ": iterations must be >= 1, got ", cfg.iterations);

  std::vector<double> dist = squared_distances(x);
  std::vector<double> cond(n * n);
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < n; ++i) conditional_row(&dist[i * n], &cond[i * n], n, i, cfg.perplexity);
  std::vector<double> P(n * n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) P[i * n + j] = std::max((cond[i * n + j] + cond[j * n + i]) / (2.0 * n), 1e-12);
  dist.clear(), dist.shrink_to_fit(), cond.clear(), cond.shrink_to_fit();

  std::vector<double> y(n * 2), update(n * 2, 0.0), gains(n * 2, 1.0), grad(n * 2), attract(n * 2), repel(n * 2), row_z(n);
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rs(cfg.seed, 0x74736e65u /* "tsne" */, static_cast<uint32_t>(i));
    y[2 * i] = 1e-2 * rs.normal();  // std 1e-2: variance 1e-4
    y[2 * i + 1] = 1e-2 * rs.normal();
  }
  double lr = cfg.learning_rate > 0 ? cfg.learning_rate : std::max(n / 12.0, 50.0);

  for (int64_t it = 0; it < cfg.iterations; ++it) {
    double exaggeration = it < cfg.exaggeration_iterations ? cfg.early_exaggeration : 1.0;
    double momentum = it < cfg.momentum_switch ? 0.5 : 0.8;
    // With the Student-t kernel num_ij = 1 / (1 + ||y_i - y_j||^2), Z = sum num and Q = num / Z:
    //   dC/dy_i = 4 sum_j (e P_ij - num_ij / Z) num_ij (y_i - y_j)
    //           = 4 (sum_j e P_ij num_ij (y_i - y_j) - (1 / Z) sum_j num_ij^2 (y_i - y_j)),
    // so one pass gathers both sums and Z, and the kernel matrix is never stored.
#pragma omp parallel for schedule(static) if (n > 128)
    for (int64_t i = 0; i < n; ++i) {
      double ax = 0, ay = 0, rx = 0, ry = 0, zi = 0;
      const double* pi = &P[i * n];
      for (int64_t j = 0; j < n; ++j) {
        if (j == i) continue;
        double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        double k = 1.0 / (1.0 + dx * dx + dy * dy);
        double a = exaggeration * pi[j] * k, r = k * k;
        ax += a * dx, ay += a * dy;
        rx += r * dx, ry += r * dy;
        zi += k;
      }
      attract[2 * i] = ax, attract[2 * i + 1] = ay;
      repel[2 * i] = rx, repel[2 * i + 1] = ry;
      row_z[i] = zi;
    }
    double z = 0;  // summed in a fixed order: the result must not depend on the thread count
    for (double v : row_z) z += v;
    for (int64_t c = 0; c < 2 * n; ++c) grad[c] = 4 * (attract[c] - repel[c] / z);
    for (int64_t c = 0; c < 2 * n; ++c) {
      // Gains grow while the gradient keeps pointing the way the last step went (update ~ -grad,
      // so their signs differ) and shrink when it reverses.
      bool same_sign = (grad[c] > 0) == (update[c] > 0);
      gains[c] = std::max(same_sign ? gains[c] * 0.8 : gains[c] + 0.2, 0.01);
      update[c] = momentum * update[c] - lr * gains[c] * grad[c];
      y[c] += update[c];
    }
    // Re-centre: the cost is translation invariant, so drift is removed rather than followed.
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; ++i) mx += y[2 * i], my += y[2 * i + 1];
    mx /= n, my /= n;
    for (int64_t i = 0; i < n; ++i) y[2 * i] -= mx, y[2 * i + 1] -= my;
  }
  std::vector<float> out(y.begin(), y.end());
  return Tensor::from_vector<float>(out, {n, 2});
}

}  // namespace slimssl::eval
