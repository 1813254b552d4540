// The direct over-clustering measure of the small-model study: k-means on L2-normalized features
// with k = #classes and k = 10 x #classes, scored against the labels by NMI and purity. If
// same-class samples split into many small clusters, NMI and purity stay low at k = #classes.
#pragma once
#include <cstdint>
#include <vector>
#include "engine/tensor.h"

namespace slimssl::eval {

struct KMeansConfig {
  int64_t k = 10;
  int64_t max_iterations = 100;
  uint64_t seed = 0;
  // Cosine (spherical k-means: centroids renormalized to unit length, points go to the most
  // similar centroid) or Euclidean (plain Lloyd on the normalized points).
  bool cosine = true;
  int64_t block = 1024;  // rows per distance block
};

struct KMeansResult {
  std::vector<int64_t> assignment;  // cluster of each row, in [0, k)
  Tensor centroids;                 // float32 [k, D]
  double inertia = 0;               // sum of squared Euclidean distances to the assigned centroid
  int64_t iterations = 0;           // Lloyd iterations run (stops early when no point moves)
};

// k-means++ seeding (D^2 sampling from the counter-based RNG keyed by `seed`; the same seed gives
// the same clusters on any thread count), then Lloyd iterations. An emptied cluster is re-seeded
// with the point farthest from its centroid.
KMeansResult kmeans(const Tensor& x, const KMeansConfig& cfg);

// Normalized mutual information with the arithmetic-mean normalization (scikit-learn's default):
// MI(a, b) / ((H(a) + H(b)) / 2); 1 when both labelings are a single group.
double nmi(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

// Fraction of samples whose label is the majority label of their cluster.
double purity(const std::vector<int64_t>& clusters, const std::vector<int64_t>& labels);

struct ClusteringScore {
  int64_t k = 0;
  double nmi = 0, purity = 0;
};

// k-means at k = multiplier * #classes for each multiplier (default {1, 10}), scored against labels.
std::vector<ClusteringScore> overclustering(const Tensor& x, const Tensor& labels, uint64_t seed,
                                            const std::vector<int64_t>& multipliers = {1, 10},
                                            bool cosine = true);

}  // namespace slimssl::eval
