#include "ssl/eval/features.h"
#include <algorithm>
#include <cmath>
#include <numeric>
#include "engine/ops.h"

namespace slimssl::eval {

Tensor host_features(const char* op, const Tensor& x) {
  SLIMSSL_CHECK(x.defined(), op, ": features are undefined");
  SLIMSSL_CHECK(x.dim() == 2, op, ": features must be [N, D], got ", shape_str(x.shape()));
  SLIMSSL_CHECK(is_floating(x.dtype()), op, ": features must be floating point, got ", dtype_name(x.dtype()));
  return x.detach().cpu().to(DType::F32).contiguous();
}

Tensor unit_rows(const char* op, const Tensor& x) {
  Tensor h = host_features(op, x);
  Tensor out = Tensor::empty(h.shape(), DType::F32);
  const float* p = h.data<float>();
  float* o = out.data<float>();
  int64_t n = h.size(0), d = h.size(1);
#pragma omp parallel for if (n * d > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(p[i * d + j]) * p[i * d + j];
    // A zero row stays zero instead of becoming NaN: it then matches nothing.
    double inv = ss > 0 ? 1.0 / std::sqrt(ss) : 0.0;
    for (int64_t j = 0; j < d; ++j) o[i * d + j] = static_cast<float>(p[i * d + j] * inv);
  }
  return out;
}

std::vector<int64_t> host_labels(const char* op, const Tensor& labels, int64_t n) {
  SLIMSSL_CHECK(labels.defined(), op, ": labels are undefined");
  SLIMSSL_CHECK(labels.dim() == 1 && labels.dtype() == DType::I64, op, ": labels must be int64 [N], got ",
                dtype_name(labels.dtype()), " ", shape_str(labels.shape()));
  SLIMSSL_CHECK(n < 0 || labels.size(0) == n, op, ": ", labels.size(0), " labels for ", n, " feature rows");
  return labels.to_vector<int64_t>();
}

int64_t count_classes(const char* op, const std::vector<int64_t>& labels) {
  int64_t top = -1;
  for (int64_t l : labels) {
    SLIMSSL_CHECK(l >= 0, op, ": labels must be non-negative, got ", l);
    top = std::max(top, l);
  }
  return top + 1;
}

void for_each_similarity_block(const Tensor& queries, const Tensor& bank, int64_t block,
                               const std::function<void(int64_t, const Tensor&)>& f) {
  SLIMSSL_CHECK(queries.size(1) == bank.size(1), "similarity: query features ", shape_str(queries.shape()),
                " and bank features ", shape_str(bank.shape()), " differ in dimension");
  SLIMSSL_CHECK(block > 0, "similarity: block size must be positive, got ", block);
  Tensor bank_t = bank.t();  // a strided view: gemm reads it transposed, no copy
  for (int64_t r = 0; r < queries.size(0); r += block) {
    int64_t rows = std::min(block, queries.size(0) - r);
    Tensor sims = matmul(queries.narrow(0, r, rows), bank_t).contiguous();
    f(r, sims);
  }
}

std::vector<int64_t> topk_rows(const float* sims, int64_t rows, int64_t n, int64_t k) {
  SLIMSSL_CHECK(k >= 1 && k <= n, "topk: k = ", k, " must be in [1, ", n, "]");
  std::vector<int64_t> out(rows * k);
#pragma omp parallel
  {
    std::vector<int64_t> idx(n);
#pragma omp for schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
      const float* s = sims + i * n;
      std::iota(idx.begin(), idx.end(), 0);
      auto before = [s](int64_t a, int64_t b) { return s[a] > s[b] || (s[a] == s[b] && a < b); };
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), before);
      std::copy(idx.begin(), idx.begin() + k, out.begin() + i * k);
    }
  }
  return out;
}

}  // namespace slimssl::eval
