#include "ssl/eval/clustering.h"
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include "engine/ops.h"
#include "engine/rng.h"
#include "ssl/eval/features.h"

namespace slimssl::eval {
namespace {

double sq_dist(const float* a, const float* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    double t = static_cast<double>(a[j]) - b[j];
    s += t * t;
  }
  return s;
}

// Uniform double in [0, 1) with 53 bits from two Philox words.
double uniform53(RandomStream& rs) {
  uint64_t hi = rs.next_u32() >> 5, lo = rs.next_u32() >> 6;
  return (static_cast<double>(hi) * 67108864.0 + static_cast<double>(lo)) / 9007199254740992.0;
}

// k-means++: the first centre uniformly, each next one with probability proportional to the
// squared distance to the nearest centre chosen so far.
std::vector<int64_t> seed_centres(const float* x, int64_t n, int64_t d, int64_t k, uint64_t seed) {
  RandomStream rs(seed, 0x6b6d6561u /* "kmea" */);
  std::vector<int64_t> centres{static_cast<int64_t>(uniform53(rs) * n)};
  std::vector<double> nearest(n, std::numeric_limits<double>::infinity());
  while (static_cast<int64_t>(centres.size()) < k) {
    const float* c = x + centres.back() * d;
#pragma omp parallel for if (n * d > (1 << 16))
    for (int64_t i = 0; i < n; ++i) nearest[i] = std::min(nearest[i], sq_dist(x + i * d, c, d));
    double total = 0;  // a serial sum, so the draw below is the same for any thread count
    for (double v : nearest) total += v;
    int64_t pick = 0;
    if (total <= 0) {
      // Fewer distinct points than k: take the first point not chosen yet.
      while (std::find(centres.begin(), centres.end(), pick) != centres.end()) ++pick;
    } else {
      double target = uniform53(rs) * total, run = 0;
      pick = n - 1;
      for (int64_t i = 0; i < n; ++i) {
        run += nearest[i];
        if (run > target && nearest[i] > 0) { pick = i; break; }
      }
    }
    centres.push_back(pick);
  }
  return centres;
}

void unit_normalize(float* c, int64_t d) {
  double ss = 0;
  for (int64_t j = 0; j < d; ++j) ss += static_cast<double>(c[j]) * c[j];
  if (ss > 0) {
    double inv = 1.0 / std::sqrt(ss);
    for (int64_t j = 0; j < d; ++j) c[j] = static_cast<float>(c[j] * inv);
  }
}

double entropy(const std::map<int64_t, int64_t>& counts, double n) {
  double h = 0;
  for (auto& [key, c] : counts)
    if (c > 0) h -= (c / n) * std::log(c / n);
  return h;
}

}  // namespace

KMeansResult kmeans(const Tensor& features, const KMeansConfig& cfg) {
  const char* op = "kmeans";
  Tensor x = unit_rows(op, features);
  int64_t n = x.size(0), d = x.size(1), k = cfg.k;
  SLIMSSL_CHECK(k >= 1 && k <= n, op, ": k = ", k, " must be in [1, N = ", n, "]");
  SLIMSSL_CHECK(cfg.max_iterations >= 1, op, ": max_iterations must be >= 1, got ", cfg.max_iterations);
  const float* px = x.data<float>();

  KMeansResult r;
  r.centroids = Tensor::empty({k, d}, DType::F32);
  float* pc = r.centroids.data<float>();
  std::vector<int64_t> init = seed_centres(px, n, d, k, cfg.seed);
  for (int64_t c = 0; c < k; ++c) std::copy(px + init[c] * d, px + (init[c] + 1) * d, pc + c * d);

  r.assignment.assign(n, -1);
  std::vector<double> dist(n);
  for (r.iterations = 1;; ++r.iterations) {
    // Assignment: ||x - c||^2 = ||x||^2 + ||c||^2 - 2 x.c with the dot products from one matmul
    // per block; cosine mode ranks by x.c alone (centroids are unit length).
    std::vector<double> cnorm(k);
    for (int64_t c = 0; c < k; ++c) cnorm[c] = cfg.cosine ? 0.0 : std::inner_product(pc + c * d, pc + (c + 1) * d, pc + c * d, 0.0, std::plus<>(),
                                                                 [](float u, float v) { return double(u) * v; });
    int64_t moved = 0;
    for_each_similarity_block(x, r.centroids, cfg.block, [&](int64_t first, const Tensor& dots) {
      const float* s = dots.data<float>();
      int64_t rows = dots.size(0);
#pragma omp parallel for reduction(+ : moved) schedule(static)
      for (int64_t i = 0; i < rows; ++i) {
        int64_t best = 0;
        double best_cost = std::numeric_limits<double>::infinity();
        for (int64_t c = 0; c < k; ++c) {
          double cost = cnorm[c] - 2.0 * s[i * k + c];  // + ||x||^2, the same for every c
          if (cost < best_cost) best_cost = cost, best = c;
        }
        int64_t row = first + i;
        moved += r.assignment[row] != best;
        r.assignment[row] = best;
      }
    });
    // Stop once no point moves, or after the last allowed assignment (so the assignment always
    // belongs to the centroids returned).
    if ((moved == 0 && r.iterations > 1) || r.iterations == cfg.max_iterations) break;
    // Update: the mean of each cluster's members (renormalized in cosine mode).
    std::vector<double> sums(k * d, 0.0);
    std::vector<int64_t> sizes(k, 0);
    for (int64_t i = 0; i < n; ++i) {
      int64_t c = r.assignment[i];
      ++sizes[c];
      for (int64_t j = 0; j < d; ++j) sums[c * d + j] += px[i * d + j];
    }
    for (int64_t i = 0; i < n; ++i) dist[i] = sq_dist(px + i * d, pc + r.assignment[i] * d, d);
    for (int64_t c = 0; c < k; ++c) {
      if (sizes[c] == 0) {
        // Re-seed an empty cluster with the worst-served point, which then leaves its old cluster.
        int64_t far = std::max_element(dist.begin(), dist.end()) - dist.begin();
        std::copy(px + far * d, px + (far + 1) * d, pc + c * d);
        dist[far] = 0;
        continue;
      }
      for (int64_t j = 0; j < d; ++j) pc[c * d + j] = static_cast<float>(sums[c * d + j] / sizes[c]);
      if (cfg.cosine) unit_normalize(pc + c * d, d);
    }
  }
  r.inertia = 0;
  for (int64_t i = 0; i < n; ++i) r.inertia += sq_dist(px + i * d, pc + r.assignment[i] * d, d);
  return r;
}

double nmi(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  SLIMSSL_CHECK(a.size() == b.size(), "nmi: labelings of different lengths, ", a.size(), " and ", b.size());
  SLIMSSL_CHECK(!a.empty(), "nmi: empty labelings");
  double n = static_cast<double>(a.size());
  std::map<int64_t, int64_t> ca, cb;
  std::map<std::pair<int64_t, int64_t>, int64_t> joint;
  for (size_t i = 0; i < a.size(); ++i) ++ca[a[i]], ++cb[b[i]], ++joint[{a[i], b[i]}];
  double ha = entropy(ca, n), hb = entropy(cb, n);
  // Both labelings a single group: identical partitions (scikit-learn returns 1 as well).
  if (ca.size() == 1 && cb.size() == 1) return 1.0;
  double mi = 0;
  for (auto& [key, c] : joint) {
    double pij = c / n;
    mi += pij * std::log(c * n / (static_cast<double>(ca[key.first]) * cb[key.second]));
  }
  double denom = 0.5 * (ha + hb);
  return denom > 0 ? std::clamp(mi / denom, 0.0, 1.0) : 0.0;
}

double purity(const std::vector<int64_t>& clusters, const std::vector<int64_t>& labels) {
  SLIMSSL_CHECK(clusters.size() == labels.size(), "purity: ", clusters.size(), " cluster ids for ",
                labels.size(), " labels");
  SLIMSSL_CHECK(!labels.empty(), "purity: empty labelings");
  std::map<int64_t, std::map<int64_t, int64_t>> table;
  for (size_t i = 0; i < labels.size(); ++i) ++table[clusters[i]][labels[i]];
  int64_t majority = 0;
  for (auto& [cluster, counts] : table) {
    int64_t top = 0;
    for (auto& [label, c] : counts) top = std::max(top, c);
    majority += top;
  }
  return majority / static_cast<double>(labels.size());
}

std::vector<ClusteringScore> overclustering(const Tensor& x, const Tensor& labels, uint64_t seed,
                                            const std::vector<int64_t>& multipliers, bool cosine) {
  const char* op = "overclustering";
  std::vector<int64_t> lab = host_labels(op, labels, x.size(0));
  std::map<int64_t, int64_t> distinct;
  for (int64_t l : lab) ++distinct[l];
  int64_t classes = static_cast<int64_t>(distinct.size());
  std::vector<ClusteringScore> out;
  for (int64_t m : multipliers) {
    SLIMSSL_CHECK(m >= 1, op, ": multipliers must be >= 1, got ", m);
    KMeansConfig cfg;
    cfg.k = std::min<int64_t>(m * classes, x.size(0));
    cfg.seed = seed;
    cfg.cosine = cosine;
    KMeansResult km = kmeans(x, cfg);
    out.push_back({cfg.k, nmi(km.assignment, lab), purity(km.assignment, lab)});
  }
  return out;
}

}  // namespace slimssl::eval
