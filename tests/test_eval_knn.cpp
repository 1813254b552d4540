// kNN monitors: known answers on hand-placed points, 100% on separable blobs, and agreement with
// a naive double-precision implementation (full sort, no blocking) on random data.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include "engine/rng.h"
#include "ssl/eval/knn.h"
#include "ssl/eval/synthetic.h"

using namespace slimssl;
using namespace slimssl::eval;

namespace {

Tensor angles_2d(const std::vector<double>& theta) {
  std::vector<float> v;
  for (double t : theta) v.push_back(static_cast<float>(std::cos(t))), v.push_back(static_cast<float>(std::sin(t)));
  return Tensor::from_vector<float>(v, {static_cast<int64_t>(theta.size()), 2});
}

Tensor labels_of(const std::vector<int64_t>& l) { return Tensor::from_vector<int64_t>(l, {static_cast<int64_t>(l.size())}); }

Tensor random_features(int64_t n, int64_t d, uint64_t seed) {
  std::vector<float> v(n * d);
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rs(seed, static_cast<uint32_t>(i));
    for (int64_t j = 0; j < d; ++j) v[i * d + j] = rs.normal();
  }
  return Tensor::from_vector<float>(v, {n, d});
}

std::vector<int64_t> random_labels(int64_t n, int64_t classes, uint64_t seed) {
  std::vector<int64_t> l(n);
  RandomStream rs(seed, 99);
  for (auto& x : l) x = rs.next_u32() % classes;
  return l;
}

// Naive reference: double cosine similarities, every neighbour list fully sorted.
struct Naive {
  std::vector<std::vector<int64_t>> order;  // per query, bank indices by descending similarity
  std::vector<std::vector<double>> sim;
};

Naive naive_neighbours(const Tensor& bank, const Tensor& queries) {
  auto unit = [](const Tensor& t) {
    std::vector<double> v = t.to_vector<double>();
    int64_t d = t.size(1);
    for (int64_t i = 0; i < t.size(0); ++i) {
      double ss = 0;
      for (int64_t j = 0; j < d; ++j) ss += v[i * d + j] * v[i * d + j];
      for (int64_t j = 0; j < d; ++j) v[i * d + j] /= std::sqrt(ss);
    }
    return v;
  };
  std::vector<double> b = unit(bank), q = unit(queries);
  int64_t n = bank.size(0), d = bank.size(1);
  Naive r;
  for (int64_t i = 0; i < queries.size(0); ++i) {
    std::vector<double> s(n);
    for (int64_t j = 0; j < n; ++j) {
      s[j] = 0;
      for (int64_t k = 0; k < d; ++k) s[j] += q[i * d + k] * b[j * d + k];
    }
    std::vector<int64_t> o(n);
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int64_t a, int64_t c) { return s[a] > s[c]; });
    r.order.push_back(o);
    r.sim.push_back(s);
  }
  return r;
}

}  // namespace

TEST_CASE("weighted kNN lets one close neighbour outvote two far ones, majority vote does not", "[eval][knn]") {
  // Query at angle 0 (class 0). Bank: class 0 at 0.1 rad; class 1 at 1.0 and 1.1 rad.
  Tensor bank = angles_2d({0.1, 1.0, 1.1}), query = angles_2d({0.0});
  Tensor bl = labels_of({0, 1, 1}), ql = labels_of({0});
  KnnConfig cfg;
  cfg.k = 3;
  cfg.temperature = 0.1;
  KnnResult w = knn_weighted(bank, bl, query, ql, cfg);
  CHECK(w.k == 3);
  CHECK(w.top1 == 1.0);  // exp(cos 0.1 / 0.1) ~ 2.1e4 > exp(5.4) + exp(4.5) ~ 311
  BestKnnResult b = knn_best(bank, bl, query, ql, 101);
  REQUIRE(b.per_k.size() == 2);  // k = 1, 3 (the bank has 3 entries)
  CHECK(b.per_k[0] == std::make_pair<int64_t, double>(1, 1.0));
  CHECK(b.per_k[1] == std::make_pair<int64_t, double>(3, 0.0));  // 2 votes to 1 for class 1
  CHECK(b.best_k == 1);
  CHECK(b.best_accuracy == 1.0);
}

TEST_CASE("best-kNN breaks a tied vote in favour of the class with the nearest member", "[eval][knn]") {
  // Three neighbours of three classes: a 1-1-1 tie at k = 3; class 2 has the nearest member.
  Tensor bank = angles_2d({0.3, 0.2, 0.1}), query = angles_2d({0.0});
  BestKnnResult b = knn_best(bank, labels_of({0, 1, 2}), query, labels_of({2}), 3);
  REQUIRE(b.per_k.size() == 2);
  CHECK(b.per_k[1].second == 1.0);
  // Tie in which the query's class is not the nearest: wrong.
  BestKnnResult b2 = knn_best(bank, labels_of({0, 1, 2}), query, labels_of({0}), 3);
  CHECK(b2.per_k[1].second == 0.0);
}

TEST_CASE("kNN classifies separable blobs perfectly", "[eval][knn]") {
  LabelledFeatures train = gaussian_blobs(5, 80, 16, 1.0, 0.15, 1);
  LabelledFeatures test = gaussian_blobs(5, 30, 16, 1.0, 0.15, 2);
  KnnConfig cfg;
  cfg.k = 20;
  cfg.block = 17;  // several similarity blocks, the last one partial
  KnnResult w = knn_weighted(train.features, train.labels, test.features, test.labels, cfg);
  CHECK(w.top1 == 1.0);
  CHECK(w.top5 == 1.0);
  BestKnnResult b = knn_best(train.features, train.labels, test.features, test.labels, 101, 17);
  CHECK(b.best_accuracy == 1.0);
  CHECK(b.per_k.size() == 51);
  for (auto& [k, acc] : b.per_k) CHECK(acc == 1.0);
}

TEST_CASE("kNN agrees with a naive implementation on random data", "[eval][knn]") {
  const int64_t nb = 300, nq = 70, d = 8, classes = 7;
  Tensor bank = random_features(nb, d, 3), queries = random_features(nq, d, 4);
  std::vector<int64_t> bl = random_labels(nb, classes, 5), ql = random_labels(nq, classes, 6);
  Naive ref = naive_neighbours(bank, queries);

  KnnConfig cfg;
  cfg.k = 25;
  cfg.temperature = 0.07;
  cfg.block = 16;
  KnnResult got = knn_weighted(bank, labels_of(bl), queries, labels_of(ql), cfg);
  int64_t hit1 = 0, hit5 = 0;
  for (int64_t i = 0; i < nq; ++i) {
    std::vector<double> score(classes, 0.0);
    for (int64_t j = 0; j < cfg.k; ++j) score[bl[ref.order[i][j]]] += std::exp(ref.sim[i][ref.order[i][j]] / cfg.temperature);
    std::vector<int64_t> cls(classes);
    std::iota(cls.begin(), cls.end(), 0);
    std::stable_sort(cls.begin(), cls.end(), [&](int64_t a, int64_t b) { return score[a] > score[b]; });
    hit1 += cls[0] == ql[i];
    hit5 += std::find(cls.begin(), cls.begin() + 5, ql[i]) != cls.begin() + 5;
  }
  CHECK(got.top1 == Approx(hit1 / double(nq)));
  CHECK(got.top5 == Approx(hit5 / double(nq)));

  BestKnnResult best = knn_best(bank, labels_of(bl), queries, labels_of(ql), 31, 16);
  REQUIRE(best.per_k.size() == 16);
  for (auto& [k, acc] : best.per_k) {
    int64_t hits = 0;
    for (int64_t i = 0; i < nq; ++i) {
      std::map<int64_t, int64_t> count, first;
      for (int64_t j = 0; j < k; ++j) {
        int64_t c = bl[ref.order[i][j]];
        if (count[c]++ == 0) first[c] = j;
      }
      int64_t winner = -1;
      for (auto& [c, n] : count)
        if (winner < 0 || n > count[winner] || (n == count[winner] && first[c] < first[winner])) winner = c;
      hits += winner == ql[i];
    }
    INFO("k = " << k);
    CHECK(acc == Approx(hits / double(nq)));
  }
}

TEST_CASE("kNN checks its inputs", "[eval][knn]") {
  Tensor bank = random_features(10, 4, 1), q = random_features(3, 5, 2);
  CHECK_THROWS_WITH(knn_weighted(bank, labels_of(random_labels(10, 2, 1)), q, labels_of({0, 1, 0})),
                    Catch::Contains("knn_weighted") && Catch::Contains("dimension"));
  CHECK_THROWS_WITH(knn_best(bank, labels_of({0, 1}), bank, labels_of(random_labels(10, 2, 1))),
                    Catch::Contains("knn_best") && Catch::Contains("2 labels for 10"));
  KnnConfig bad;
  bad.temperature = 0;
  CHECK_THROWS_WITH(knn_weighted(bank, labels_of(random_labels(10, 2, 1)), bank, labels_of(random_labels(10, 2, 1)), bad),
                    Catch::Contains("temperature"));
}
