// Gradient diagnostics: per-width contributions, magnitude ratios, direction cosines, PCA.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include "gradcheck.h"
#include "ssl/diag/gradient_diagnostics.h"
#include "ssl/train/learner.h"
#include "train_fixture.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {
double sq(const Tensor& t) { return sum(mul(t.detach(), t.detach())).item(); }
}

TEST_CASE("diag: contributions add up to the gradient of one backward of the sum", "[diag]") {
  train::TrainConfig c = tiny_config("mocov2");
  c.widths = {1.0, 0.5, 0.25};
  Tensor v1 = randu({8, 3, 16, 16}, 41, -1, 1, DType::F32), v2 = randu({8, 3, 16, 16}, 42, -1, 1, DType::F32);

  train::Learner reference(c);
  reference.compute_loss(v1, v2, 1.0, 7).loss.backward();

  train::Learner learner(c);
  std::string dir = fresh_dir("diag");
  diag::GradientDiagnostics d(learner.query(), c.widths, dir);
  auto sl = learner.compute_loss(v1, v2, 1.0, 7);
  d.backward_and_record(sl, 1);

  auto ref_layers = diag::slimmable_layers(reference.query());
  REQUIRE(ref_layers.size() == d.layers().size());
  REQUIRE(d.layers().size() > 10);
  for (size_t li = 0; li < d.layers().size(); ++li) {
    const auto& layer = d.layers()[li];
    INFO(layer.name);
    Tensor total = layer.weight.grad();
    REQUIRE(total.defined());
    CHECK(allclose(total, ref_layers[li].weight.grad(), 1e-6, 1e-4));
    Tensor summed = Tensor::zeros_like(total);
    for (size_t wi = 0; wi < 3; ++wi)
      if (d.last_contributions()[wi][li].defined()) summed.add_(d.last_contributions()[wi][li]);
    CHECK(allclose(summed, total, 1e-6, 1e-4));
    // A width's contribution lives inside its own slice: zero outside it.
    const Tensor& small = d.last_contributions()[2][li];
    if (small.defined()) CHECK(sq(small) == Approx(sq(diag::slice_region(small, layer.slices[2]))).epsilon(1e-9));
  }
}

TEST_CASE("diag: records hold the magnitude identity and unit self-cosines", "[diag]") {
  train::TrainConfig c = tiny_config("simclr");
  c.widths = {1.0, 0.5};
  Tensor v1 = randu({8, 3, 16, 16}, 43, -1, 1, DType::F32), v2 = randu({8, 3, 16, 16}, 44, -1, 1, DType::F32);
  train::Learner learner(c);
  std::string dir = fresh_dir("diag_records");
  {
    diag::GradientDiagnostics d(learner.query(), c.widths, dir);
    for (int step = 1; step <= 3; ++step) {
      learner.query().zero_grad();
      d.backward_and_record(learner.compute_loss(v1, v2, 1.0, step), step);
    }
    // |g_1.0|^2 = |g_min|^2 + |g_{1.0 \ min}|^2 with the complement measured directly.
    for (auto& layer : d.layers()) {
      Tensor g = layer.weight.grad();
      double full = sq(g), small = sq(diag::slice_region(g, layer.slices[1]));
      Tensor outside = g.clone();
      diag::slice_region(outside, layer.slices[1]).zero_();
      CHECK(full == Approx(small + sq(outside)).epsilon(1e-6));
    }
    d.finish();
  }
  std::ifstream in(std::filesystem::path(dir) / "gradients.jsonl");
  int records = 0, means = 0;
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j["layer"] == "__mean__") {
      ++means;
      CHECK(j["ratio_full_min"].get<double>() >= 1.0);
      continue;
    }
    ++records;
    // (Layers feeding a zero-initialized BN gamma get no gradient at first: no ratio then.)
    if (j["width"] == 1.0 && j.contains("ratio_full_min")) {
      double ratio = j["ratio_full_min"], rest = j["ratio_rest_min"];
      CHECK(ratio * ratio == Approx(1.0 + rest * rest).epsilon(1e-6));
      if (j["step"] == 1) CHECK(!j.contains("cos_prev"));
      else CHECK(std::abs(j["cos_prev"].get<double>()) <= 1.0 + 1e-9);
    }
    if (j.contains("cos"))
      for (auto& [k, v] : j["cos"].items()) CHECK(std::abs(v.get<double>()) <= 1.0 + 1e-9);
  }
  CHECK(means == 3);
  CHECK(records > 3 * 2 * 10);
  // The head layer's trajectory: one PCA row per diagnostic step after a header.
  std::ifstream pca(std::filesystem::path(dir) / "pca.jsonl");
  std::vector<nlohmann::json> rows;
  for (std::string line; std::getline(pca, line);) rows.push_back(nlohmann::json::parse(line));
  REQUIRE(rows.size() == 4);
  CHECK(rows[0]["layer"].get<std::string>().rfind("projector.", 0) == 0);
}

TEST_CASE("diag: PCA recovers a one-dimensional trajectory", "[diag]") {
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 6; ++i) rows.push_back({float(i), float(2 * i), float(-i), 1.0f});
  auto p = diag::pca2(rows);
  CHECK(p.explained[0] == Approx(1.0).epsilon(1e-6));
  CHECK(p.explained[1] == Approx(0.0).margin(1e-6));
  // Coordinates are evenly spaced along PC1: the row spacing times |direction| = sqrt(6).
  for (int i = 1; i < 6; ++i) CHECK(p.coords[i][0] - p.coords[i - 1][0] == Approx(std::sqrt(6.0)).epsilon(1e-6));
}
