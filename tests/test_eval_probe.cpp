// Linear probes on cached features: every kind reaches 100% on separable data, parameters are
// shared or not as the kind says, and the first-epoch loss matches a naive computation of the
// documented loss (CE for the full width; (soft-CE to the full probe + CE) / 2 for sub-widths).
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/ops.h"
#include "models/slim_layers.h"
#include "ssl/eval/linear_probe.h"
#include "ssl/eval/synthetic.h"

using namespace slimssl;
using namespace slimssl::eval;

namespace {

// Width 0: all 16 columns; width 1: the first 8; width 2: the first 4 (the class axes are 0..3,
// so every width sees a separable problem).
ProbeSplit nested_split(const LabelledFeatures& d) {
  return {{d.features, d.features.narrow(1, 0, 8), d.features.narrow(1, 0, 4)}, d.labels};
}

std::vector<double> logits_naive(const std::vector<double>& x, int64_t d, const Tensor& w, const Tensor& b, int64_t row,
                                 int64_t classes) {
  std::vector<double> wv = w.to_vector<double>(), bv = b.to_vector<double>();
  int64_t wd = w.size(1);
  std::vector<double> out(classes);
  for (int64_t c = 0; c < classes; ++c) {
    out[c] = bv[c];
    for (int64_t j = 0; j < d; ++j) out[c] += wv[c * wd + j] * x[row * 16 + j];  // first d columns
  }
  return out;
}

std::vector<double> log_softmax_naive(const std::vector<double>& z) {
  double m = *std::max_element(z.begin(), z.end()), s = 0;
  for (double v : z) s += std::exp(v - m);
  std::vector<double> out;
  for (double v : z) out.push_back(v - m - std::log(s));
  return out;
}

}  // namespace

TEST_CASE("switchable and slimmable probes reach 100% on separable features", "[eval][probe]") {
  LabelledFeatures train = gaussian_blobs(4, 60, 16, 1.0, 0.1, 31), test = gaussian_blobs(4, 25, 16, 1.0, 0.1, 32);
  for (auto [kind, distill] : {std::pair{ProbeKind::Switchable, false}, std::pair{ProbeKind::Switchable, true},
                               std::pair{ProbeKind::Slimmable, false}}) {
    INFO("kind " << static_cast<int>(kind) << " distill " << distill);
    ProbeConfig cfg;
    cfg.kind = kind;
    cfg.distill = distill;
    cfg.lr = 0.5;
    cfg.epochs = 25;
    cfg.batch_size = 32;
    int64_t logged = 0;
    ProbeResult r = train_linear_probe(nested_split(train), nested_split(test), 4, cfg,
                                       [&](int64_t, double, double) { ++logged; });
    CHECK(logged == 25);
    REQUIRE(r.widths.size() == 3);
    for (auto& w : r.widths) {
      CHECK(w.top1 == 1.0);
      CHECK(w.top5 == 1.0);
    }
    CHECK(r.epoch_loss.back() < r.epoch_loss.front());
  }
}

TEST_CASE("a slimmable probe shares one weight, a switchable one has a weight per width", "[eval][probe]") {
  LabelledFeatures d = gaussian_blobs(4, 10, 16, 1.0, 0.2, 33);
  ProbeConfig cfg;
  cfg.epochs = 1;
  cfg.kind = ProbeKind::Slimmable;
  ProbeResult slim = train_linear_probe(nested_split(d), nested_split(d), 4, cfg);
  auto sp = slim.probe->named_parameters();
  REQUIRE(sp.size() == 2);
  CHECK(sp[0].second.shape() == Shape{4, 16});
  cfg.kind = ProbeKind::Switchable;
  ProbeResult sw = train_linear_probe(nested_split(d), nested_split(d), 4, cfg);
  int64_t weights = 0;
  for (auto& [name, t] : sw.probe->named_parameters()) weights += t.dim() == 2;
  CHECK(weights == 3);
  CHECK(sw.probe->parameter_count() == (16 + 8 + 4) * 4 + 3 * 4);
  CHECK(parse_probe_kind("slimmable") == ProbeKind::Slimmable);
  CHECK_THROWS_WITH(parse_probe_kind("shared"), Catch::Contains("switchable or slimmable"));
}

TEST_CASE("the probe's loss is the documented sum over widths (with distillation)", "[eval][probe]") {
  LabelledFeatures d = gaussian_blobs(3, 8, 16, 1.0, 0.5, 34);
  for (ProbeKind kind : {ProbeKind::Switchable, ProbeKind::Slimmable}) {
    ProbeConfig cfg;
    cfg.kind = kind;
    cfg.distill = true;
    cfg.lr = 0;  // the weights stay at their initialization, so the loss can be recomputed
    cfg.schedule = "constant";
    cfg.init_std = 0.3;
    cfg.epochs = 1;
    cfg.batch_size = 24;  // one batch holding every sample
    ProbeResult r = train_linear_probe(nested_split(d), nested_split(d), 3, cfg);
    std::vector<double> x = d.features.to_vector<double>();
    std::vector<int64_t> y = d.labels.to_vector<int64_t>();
    auto params = r.probe->named_parameters();
    auto weight_of = [&](int wi) {
      return kind == ProbeKind::Slimmable ? std::pair{params[0].second, params[1].second}
                                          : std::pair{params[2 * wi].second, params[2 * wi + 1].second};
    };
    const int64_t dims[3] = {16, 8, 4};
    double total = 0;
    for (int64_t i = 0; i < 24; ++i) {
      auto [w0, b0] = weight_of(0);
      std::vector<double> lp0 = log_softmax_naive(logits_naive(x, 16, w0, b0, i, 3));
      total += -lp0[y[i]];
      for (int wi = 1; wi < 3; ++wi) {
        auto [w, b] = weight_of(wi);
        std::vector<double> lp = log_softmax_naive(logits_naive(x, dims[wi], w, b, i, 3));
        double soft = 0;
        for (int c = 0; c < 3; ++c) soft -= std::exp(lp0[c]) * lp[c];
        total += 0.5 * (soft - lp[y[i]]);
      }
    }
    CHECK(r.epoch_loss[0] == Approx(total / 24).epsilon(1e-5));
  }
}

TEST_CASE("the probe checks its inputs", "[eval][probe]") {
  LabelledFeatures d = gaussian_blobs(3, 8, 16, 1.0, 0.5, 35);
  ProbeConfig cfg;
  cfg.epochs = 1;
  ProbeSplit two{{d.features, d.features.narrow(1, 0, 8)}, d.labels};
  CHECK_THROWS_WITH(train_linear_probe(nested_split(d), two, 3, cfg),
                    Catch::Contains("linear_probe") && Catch::Contains("2 widths, expected 3"));
  cfg.kind = ProbeKind::Slimmable;
  ProbeSplit wider{{d.features.narrow(1, 0, 8), d.features}, d.labels};
  CHECK_THROWS_WITH(train_linear_probe(wider, wider, 3, cfg), Catch::Contains("more than the full width"));
  cfg.kind = ProbeKind::Switchable;
  CHECK_THROWS_WITH(train_linear_probe(two, two, 2, cfg), Catch::Contains("num_classes = 2"));
  cfg.schedule = "linear";
  CHECK_THROWS_WITH(train_linear_probe(two, two, 3, cfg), Catch::Contains("unknown schedule"));
}
