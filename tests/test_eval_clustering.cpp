// k-means, NMI and purity: separated clusters are recovered exactly, random labels carry no
// information, hand-computed values, and Lloyd's fixed point (every point at its nearest centroid).
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/rng.h"
#include "ssl/eval/clustering.h"
#include "ssl/eval/synthetic.h"

using namespace slimssl;
using namespace slimssl::eval;

TEST_CASE("NMI and purity of hand-made labelings", "[eval][clustering]") {
  // H(a) = ln 2, H(b) = -(3/4 ln 3/4 + 1/4 ln 1/4), MI = 1/2 ln 4/3 + 1/4 ln 2/3 + 1/4 ln 2 (worked by hand).
  double mi = 0.5 * std::log(4.0 / 3) + 0.25 * std::log(2.0 / 3) + 0.25 * std::log(2.0);
  double ha = std::log(2.0), hb = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
  CHECK(nmi({0, 0, 1, 1}, {0, 0, 0, 1}) == Approx(mi / ((ha + hb) / 2)));
  CHECK(nmi({0, 0, 1, 1}, {0, 0, 0, 1}) == Approx(0.343711).epsilon(1e-5));
  CHECK(nmi({0, 0, 1, 1, 2, 2}, {5, 5, 3, 3, 9, 9}) == Approx(1.0));  // same partition, other names
  CHECK(nmi({0, 0, 0}, {1, 1, 1}) == 1.0);
  CHECK(nmi({0, 0, 0, 0}, {0, 1, 0, 1}) == 0.0);
  CHECK(purity({0, 0, 0, 1, 1}, {0, 0, 1, 1, 1}) == Approx(0.8));
  CHECK(purity({0, 1, 2, 3}, {0, 0, 1, 1}) == 1.0);  // singletons are always pure
  CHECK_THROWS_WITH(nmi({0, 1}, {0}), Catch::Contains("nmi"));
}

TEST_CASE("random labels have NMI near 0", "[eval][clustering]") {
  std::vector<int64_t> a(5000), b(5000);
  RandomStream rs(3, 1);
  for (size_t i = 0; i < a.size(); ++i) a[i] = rs.next_u32() % 10, b[i] = rs.next_u32() % 10;
  double v = nmi(a, b);
  CHECK(v >= 0.0);
  CHECK(v < 0.02);  // the chance level of MI is about (10-1)^2 / (2N) nats = 0.008
}

TEST_CASE("k-means recovers perfectly separated clusters: NMI 1 and purity 1", "[eval][clustering]") {
  LabelledFeatures data = gaussian_blobs(6, 50, 12, 1.0, 0.05, 11);
  std::vector<int64_t> labels = data.labels.to_vector<int64_t>();
  for (bool cosine : {true, false}) {
    INFO("cosine " << cosine);
    KMeansConfig cfg;
    cfg.k = 6;
    cfg.seed = 5;
    cfg.cosine = cosine;
    cfg.block = 37;
    KMeansResult km = kmeans(data.features, cfg);
    CHECK(nmi(km.assignment, labels) == Approx(1.0));
    CHECK(purity(km.assignment, labels) == 1.0);
    CHECK(km.iterations >= 2);
  }
  std::vector<ClusteringScore> s = overclustering(data.features, data.labels, 7);
  REQUIRE(s.size() == 2);
  CHECK(s[0].k == 6);
  CHECK(s[0].nmi == Approx(1.0));
  CHECK(s[1].k == 60);
  CHECK(s[1].purity == 1.0);  // over-clustering a pure class keeps every cluster pure ...
  CHECK(s[1].nmi < 0.9);      // ... but splits it, which NMI sees
}

TEST_CASE("k-means ends at a Lloyd fixed point and is deterministic in its seed", "[eval][clustering]") {
  LabelledFeatures data = gaussian_blobs(4, 60, 8, 1.0, 0.6, 12);  // overlapping blobs
  KMeansConfig cfg;
  cfg.k = 7;
  cfg.seed = 42;
  cfg.cosine = false;
  KMeansResult a = kmeans(data.features, cfg), b = kmeans(data.features, cfg);
  CHECK(a.assignment == b.assignment);
  cfg.seed = 43;
  KMeansResult c = kmeans(data.features, cfg);
  CHECK(c.assignment != a.assignment);

  // Recompute on normalized rows in double: every point is nearest to its own centroid, and the
  // inertia is the sum of those squared distances.
  int64_t n = data.features.size(0), d = data.features.size(1);
  std::vector<double> x = data.features.to_vector<double>(), cen = a.centroids.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int64_t j = 0; j < d; ++j) ss += x[i * d + j] * x[i * d + j];
    for (int64_t j = 0; j < d; ++j) x[i * d + j] /= std::sqrt(ss);
  }
  double inertia = 0;
  int64_t misplaced = 0;
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> dist(cfg.k);
    for (int64_t c2 = 0; c2 < cfg.k; ++c2) {
      dist[c2] = 0;
      for (int64_t j = 0; j < d; ++j) dist[c2] += (x[i * d + j] - cen[c2 * d + j]) * (x[i * d + j] - cen[c2 * d + j]);
    }
    int64_t own = a.assignment[i];
    inertia += dist[own];
    for (int64_t c2 = 0; c2 < cfg.k; ++c2) misplaced += dist[c2] < dist[own] - 1e-5;
  }
  CHECK(misplaced == 0);
  CHECK(a.inertia == Approx(inertia).epsilon(1e-5));
  CHECK_THROWS_WITH(kmeans(data.features, KMeansConfig{1000}), Catch::Contains("kmeans") && Catch::Contains("k = 1000"));
}
