// k-nearest-neighbour classification of frozen features, the two monitors the papers report.
//
// Weighted kNN (InstDisc / the MoCo kNN monitor): features are L2-normalized, a query's k most
// cosine-similar bank entries vote for their class with weight exp(sim / T), class scores are
// summed, and classes are ranked by score (ties: smaller class index first).
//
// Best-kNN (the small-model study): an unweighted majority vote among the k nearest, evaluated for
// every odd k in {1, 3, ..., max_k} from one sorted neighbour list, and the best accuracy reported.
// A tied vote goes to the tied class whose nearest member ranks closest to the query (neighbours
// are ranked by similarity, equal similarities by bank index); this is deterministic and never
// favours a class for its index alone. (scikit-learn's uniform KNeighborsClassifier instead picks
// the smallest tied label.)
//
// Similarities are computed in blocks of query rows with the engine's matmul, so a 10k x 50k
// comparison holds one block of `block` x N floats at a time.
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace slimssl::eval {

struct KnnConfig {
  int64_t k = 200;
  double temperature = 0.1;
  int64_t num_classes = 0;  // 0: 1 + the largest label in either set
  int64_t block = 256;      // query rows per similarity block
};

struct KnnResult {
  double top1 = 0, top5 = 0;  // fractions in [0, 1]; top5 uses min(5, classes)
  int64_t k = 0;              // the k actually used (min(k, bank size))
};

// The standard error of a top-1 accuracy `percent` (%) measured on n test images: the binomial
// sqrt(p (1 - p) / n), in points; the uncertainty every reported kNN figure carries.
double top1_standard_error(double percent, int64_t n);

KnnResult knn_weighted(const Tensor& bank, const Tensor& bank_labels, const Tensor& queries,
                       const Tensor& query_labels, const KnnConfig& cfg = {});

struct BestKnnResult {
  int64_t best_k = 0;
  double best_accuracy = 0;                         // smallest k wins among equal accuracies
  std::vector<std::pair<int64_t, double>> per_k;    // (k, accuracy) for every odd k evaluated
};

BestKnnResult knn_best(const Tensor& bank, const Tensor& bank_labels, const Tensor& queries,
                       const Tensor& query_labels, int64_t max_k = 101, int64_t block = 256);

}  // namespace slimssl::eval
