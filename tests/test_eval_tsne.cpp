// Exact t-SNE: well-separated blobs stay separated in 2-D, and the picture depends only on the seed.
#include <catch2/catch.hpp>
#include <cmath>
#include "ssl/eval/synthetic.h"
#include "ssl/eval/tsne.h"

using namespace slimssl;
using namespace slimssl::eval;

TEST_CASE("t-SNE keeps three well-separated Gaussian blobs apart", "[eval][tsne]") {
  LabelledFeatures data = gaussian_blobs(3, 40, 10, 4.0, 0.5, 21);
  TsneConfig cfg;
  cfg.perplexity = 15;
  cfg.iterations = 400;
  cfg.seed = 3;
  Tensor y = tsne(data.features, cfg);
  REQUIRE(y.shape() == Shape{120, 2});
  std::vector<float> p = y.to_vector<float>();
  std::vector<int64_t> lab = data.labels.to_vector<int64_t>();
  for (float v : p) REQUIRE(std::isfinite(v));
  // Every point's nearest neighbour in the embedding belongs to its own blob, and each blob's
  // centroid is closer to its own members than any other blob's centroid is.
  int64_t wrong = 0;
  for (int64_t i = 0; i < 120; ++i) {
    int64_t best = -1;
    double bd = INFINITY;
    for (int64_t j = 0; j < 120; ++j) {
      if (j == i) continue;
      double d = std::hypot(p[2 * i] - p[2 * j], p[2 * i + 1] - p[2 * j + 1]);
      if (d < bd) bd = d, best = j;
    }
    wrong += lab[best] != lab[i];
  }
  CHECK(wrong == 0);
  double cx[3] = {0, 0, 0}, cy[3] = {0, 0, 0};
  for (int64_t i = 0; i < 120; ++i) cx[lab[i]] += p[2 * i] / 40, cy[lab[i]] += p[2 * i + 1] / 40;
  int64_t closer_elsewhere = 0;
  for (int64_t i = 0; i < 120; ++i) {
    double own = std::hypot(p[2 * i] - cx[lab[i]], p[2 * i + 1] - cy[lab[i]]);
    for (int c = 0; c < 3; ++c)
      if (c != lab[i]) closer_elsewhere += std::hypot(p[2 * i] - cx[c], p[2 * i + 1] - cy[c]) < own;
  }
  CHECK(closer_elsewhere == 0);
}

TEST_CASE("t-SNE is a function of its seed", "[eval][tsne]") {
  LabelledFeatures data = gaussian_blobs(2, 15, 4, 2.0, 0.5, 22);
  TsneConfig cfg;
  cfg.perplexity = 5;
  cfg.iterations = 60;
  cfg.seed = 1;
  std::vector<float> a = tsne(data.features, cfg).to_vector<float>();
  std::vector<float> b = tsne(data.features, cfg).to_vector<float>();
  CHECK(a == b);
  cfg.seed = 2;
  CHECK(tsne(data.features, cfg).to_vector<float>() != a);
  cfg.max_points = 20;
  CHECK_THROWS_WITH(tsne(data.features, cfg), Catch::Contains("tsne") && Catch::Contains("max_points"));
  cfg.max_points = 5000;
  cfg.perplexity = 40;
  CHECK_THROWS_WITH(tsne(data.features, cfg), Catch::Contains("perplexity"));
}
