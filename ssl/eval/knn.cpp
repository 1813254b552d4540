#include "ssl/eval/knn.h"
#include <algorithm>
#include <cmath>
#include "ssl/eval/features.h"

namespace slimssl::eval {
namespace {

struct Prepared {
  Tensor bank, queries;
  std::vector<int64_t> bank_labels, query_labels;
  int64_t classes = 0;
};

Prepared prepare(const char* op, const Tensor& bank, const Tensor& bank_labels, const Tensor& queries,
                 const Tensor& query_labels, int64_t num_classes) {
  Prepared p;
  p.bank = unit_rows(op, bank);
  p.queries = unit_rows(op, queries);
  SLIMSSL_CHECK(p.bank.size(0) > 0, op, ": the feature bank is empty");
  SLIMSSL_CHECK(p.bank.size(1) == p.queries.size(1), op, ": bank features ", shape_str(p.bank.shape()),
                " and query features ", shape_str(p.queries.shape()), " differ in dimension");
  p.bank_labels = host_labels(op, bank_labels, p.bank.size(0));
  p.query_labels = host_labels(op, query_labels, p.queries.size(0));
  int64_t seen = std::max(count_classes(op, p.bank_labels), count_classes(op, p.query_labels));
  SLIMSSL_CHECK(num_classes == 0 || num_classes >= seen, op, ": num_classes = ", num_classes,
                " but a label ", seen - 1, " occurs");
  p.classes = num_classes > 0 ? num_classes : seen;
  return p;
}

}  // namespace

double top1_standard_error(double percent, int64_t n) {
  if (n <= 0) return 0;
  double p = std::clamp(percent / 100.0, 0.0, 1.0);
  return 100.0 * std::sqrt(p * (1 - p) / static_cast<double>(n));
}

KnnResult knn_weighted(const Tensor& bank, const Tensor& bank_labels, const Tensor& queries,
                       const Tensor& query_labels, const KnnConfig& cfg) {
  const char* op = "knn_weighted";
  SLIMSSL_CHECK(cfg.k >= 1, op, ": k must be >= 1, got ", cfg.k);
  SLIMSSL_CHECK(cfg.temperature > 0, op, ": temperature must be positive, got ", cfg.temperature);
  Prepared p = prepare(op, bank, bank_labels, queries, query_labels, cfg.num_classes);
  int64_t n = p.bank.size(0), k = std::min(cfg.k, n), c = p.classes;
  int64_t top = std::min<int64_t>(5, c);
  int64_t hits1 = 0, hits5 = 0;
  for_each_similarity_block(p.queries, p.bank, cfg.block, [&](int64_t first, const Tensor& sims) {
    int64_t rows = sims.size(0);
    const float* s = sims.data<float>();
    std::vector<int64_t> nn = topk_rows(s, rows, n, k);
#pragma omp parallel for reduction(+ : hits1, hits5) schedule(static)
    for (int64_t i = 0; i < rows; ++i) {
      std::vector<double> score(c, 0.0);
      for (int64_t j = 0; j < k; ++j) {
        int64_t b = nn[i * k + j];
        score[p.bank_labels[b]] += std::exp(s[i * n + b] / cfg.temperature);
      }
      int64_t truth = p.query_labels[first + i];
      // Rank of the true class: classes with a higher score, or an equal score and smaller index.
      int64_t rank = 0;
      for (int64_t cl = 0; cl < c; ++cl)
        if (score[cl] > score[truth] || (score[cl] == score[truth] && cl < truth)) ++rank;
      hits1 += rank < 1;
      hits5 += rank < top;
    }
  });
  double q = static_cast<double>(p.queries.size(0));
  KnnResult r;
  r.k = k;
  r.top1 = q > 0 ? hits1 / q : 0.0;
  r.top5 = q > 0 ? hits5 / q : 0.0;
  return r;
}

BestKnnResult knn_best(const Tensor& bank, const Tensor& bank_labels, const Tensor& queries,
                       const Tensor& query_labels, int64_t max_k, int64_t block) {
  const char* op = "knn_best";
  SLIMSSL_CHECK(max_k >= 1, op, ": max_k must be >= 1, got ", max_k);
  Prepared p = prepare(op, bank, bank_labels, queries, query_labels, 0);
  int64_t n = p.bank.size(0), kmax = std::min(max_k, n), c = p.classes;
  int64_t nk = (kmax + 1) / 2;  // odd k: 1, 3, ..., <= kmax
  std::vector<int64_t> hits(nk, 0);
  for_each_similarity_block(p.queries, p.bank, block, [&](int64_t first, const Tensor& sims) {
    int64_t rows = sims.size(0);
    std::vector<int64_t> nn = topk_rows(sims.data<float>(), rows, n, kmax);
#pragma omp parallel
    {
      std::vector<int64_t> local(nk, 0), count(c), first_rank(c);
#pragma omp for schedule(static)
      for (int64_t i = 0; i < rows; ++i) {
        std::fill(count.begin(), count.end(), 0);
        std::fill(first_rank.begin(), first_rank.end(), kmax);
        int64_t truth = p.query_labels[first + i];
        int64_t leader = -1;  // the current vote winner, kept incrementally as k grows
        for (int64_t j = 0; j < kmax; ++j) {
          int64_t cl = p.bank_labels[nn[i * kmax + j]];
          if (count[cl]++ == 0) first_rank[cl] = j;
          // A class that reaches the leader's count wins only if its nearest member is closer.
          if (leader < 0 || count[cl] > count[leader] ||
              (count[cl] == count[leader] && first_rank[cl] < first_rank[leader]))
            leader = cl;
          if (j % 2 == 0) local[j / 2] += leader == truth;
        }
      }
#pragma omp critical
      for (int64_t t = 0; t < nk; ++t) hits[t] += local[t];
    }
  });
  BestKnnResult r;
  double q = static_cast<double>(p.queries.size(0));
  for (int64_t t = 0; t < nk; ++t) {
    double acc = q > 0 ? hits[t] / q : 0.0;
    r.per_k.emplace_back(2 * t + 1, acc);
    if (t == 0 || acc > r.best_accuracy) r.best_k = 2 * t + 1, r.best_accuracy = acc;
  }
  return r;
}

}  // namespace slimssl::eval
