#include "ssl/eval/metrics.h"
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include "ssl/eval/features.h"

namespace slimssl::eval {
namespace {

Tensor paired_unit_rows(const char* op, const Tensor& x, const Tensor& y, Tensor& yn) {
  Tensor xn = unit_rows(op, x);
  yn = unit_rows(op, y);
  SLIMSSL_CHECK(xn.shape() == yn.shape(), op, ": paired features must have equal shapes, got ",
                shape_str(xn.shape()), " and ", shape_str(yn.shape()));
  return xn;
}

double dot(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) s += static_cast<double>(a[j]) * b[j];
  return s;
}

// A running log-sum-exp: (max, sum of exp(v - max)), merged without ever exponentiating a large
// positive number.
struct Lse {
  double m = -std::numeric_limits<double>::infinity(), s = 0;
  void add(double v) {
    if (v <= m) {
      s += std::exp(v - m);
    } else {
      s = s * std::exp(m - v) + 1.0;
      m = v;
    }
  }
  void merge(const Lse& o) {
    if (o.s == 0) return;
    if (s == 0) { *this = o; return; }
    double top = std::max(m, o.m);
    s = s * std::exp(m - top) + o.s * std::exp(o.m - top);
    m = top;
  }
  double value() const { return m + std::log(s); }
};

}  // namespace

double alignment(const Tensor& x, const Tensor& y) {
  Tensor yn;
  Tensor xn = paired_unit_rows("alignment", x, y, yn);
  int64_t n = xn.size(0), d = xn.size(1);
  SLIMSSL_CHECK(n > 0, "alignment: no samples");
  const float* a = xn.data<float>();
  const float* b = yn.data<float>();
  double total = 0;
#pragma omp parallel for reduction(+ : total) if (n * d > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < d; ++j) {
      double diff = static_cast<double>(a[i * d + j]) - b[i * d + j];
      s += diff * diff;
    }
    total += s;
  }
  return total / static_cast<double>(n);
}

double intra_class_alignment(const Tensor& x, const Tensor& labels) {
  const char* op = "intra_class_alignment";
  Tensor xn = unit_rows(op, x);
  std::vector<int64_t> lab = host_labels(op, labels, xn.size(0));
  int64_t d = xn.size(1);
  const float* p = xn.data<float>();
  // Over ordered pairs of distinct members: sum ||x_i - x_j||^2 = 2 n sum ||x_i||^2 - 2 ||sum x_i||^2
  // (the i = j terms are zero), so each class costs one pass instead of n^2 distances.
  struct ClassSums {
    int64_t n = 0;
    double sq = 0;
    std::vector<double> s;
  };
  std::map<int64_t, ClassSums> classes;
  for (size_t i = 0; i < lab.size(); ++i) {
    ClassSums& c = classes[lab[i]];
    if (c.s.empty()) c.s.assign(d, 0.0);
    ++c.n;
    for (int64_t j = 0; j < d; ++j) {
      double v = p[i * d + j];
      c.s[j] += v;
      c.sq += v * v;
    }
  }
  double total = 0;
  int64_t counted = 0;
  for (auto& [label, c] : classes) {
    if (c.n < 2) continue;
    double ss = 0;
    for (double v : c.s) ss += v * v;
    double pair_sum = 2.0 * c.n * c.sq - 2.0 * ss;
    total += std::max(0.0, pair_sum) / (static_cast<double>(c.n) * (c.n - 1));
    ++counted;
  }
  SLIMSSL_CHECK(counted > 0, op, ": no class has two or more samples (", lab.size(), " samples)");
  return total / static_cast<double>(counted);
}

double uniformity(const Tensor& x, int64_t block) {
  const char* op = "uniformity";
  Tensor xn = unit_rows(op, x);
  int64_t n = xn.size(0);
  SLIMSSL_CHECK(n >= 2, op, ": needs at least two samples, got ", shape_str(xn.shape()));
  // For unit vectors -2 ||x_i - x_j||^2 = 4 cos_ij - 4.
  Lse total;
  for_each_similarity_block(xn, xn, block, [&](int64_t first, const Tensor& sims) {
    int64_t rows = sims.size(0);
    const float* s = sims.data<float>();
#pragma omp parallel
    {
      Lse local;
#pragma omp for schedule(dynamic, 16)
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = first + r + 1; j < n; ++j) local.add(4.0 * s[r * n + j] - 4.0);
#pragma omp critical
      total.merge(local);
    }
  });
  double pairs = 0.5 * static_cast<double>(n) * static_cast<double>(n - 1);
  return total.value() - std::log(pairs);
}

std::vector<double> retrieval_accuracy(const Tensor& originals, const Tensor& views, int64_t max_k, int64_t block) {
  const char* op = "retrieval_accuracy";
  Tensor vn;
  Tensor on = paired_unit_rows(op, originals, views, vn);
  int64_t n = on.size(0), d = on.size(1);
  SLIMSSL_CHECK(n > 0, op, ": no samples");
  SLIMSSL_CHECK(max_k >= 1, op, ": max_k must be >= 1, got ", max_k);
  const float* o = on.data<float>();
  const float* v = vn.data<float>();
  std::vector<int64_t> hits(max_k, 0);
  for_each_similarity_block(on, on, block, [&](int64_t first, const Tensor& sims) {
    int64_t rows = sims.size(0);
    const float* s = sims.data<float>();
#pragma omp parallel
    {
      std::vector<int64_t> local(max_k, 0);
#pragma omp for schedule(static)
      for (int64_t r = 0; r < rows; ++r) {
        int64_t i = first + r;
        double view_sim = dot(o + i * d, v + i * d, d);
        int64_t ahead = 0;  // other originals at least as similar as the view
        for (int64_t j = 0; j < n && ahead < max_k; ++j)
          if (j != i && s[r * n + j] >= view_sim) ++ahead;
        for (int64_t k = ahead; k < max_k; ++k) ++local[k];  // within the top k+1 for k >= ahead
      }
#pragma omp critical
      for (int64_t k = 0; k < max_k; ++k) hits[k] += local[k];
    }
  });
  std::vector<double> acc(max_k);
  for (int64_t k = 0; k < max_k; ++k) acc[k] = hits[k] / static_cast<double>(n);
  return acc;
}

}  // namespace slimssl::eval
