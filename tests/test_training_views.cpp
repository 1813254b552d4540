// The training views of a run: the preset, with the config's strength keys applied on top.
#include <catch2/catch.hpp>
#include "ssl/train/config.h"

using namespace slimssl;

namespace {
data::Normalization gray() {
  data::Normalization n;
  n.channels = 1, n.mean[0] = 0.5f, n.std[0] = 0.25f;
  return n;
}
}  // namespace

TEST_CASE("training views: crop_scale_min and jitter_strength change the preset, 0 and 1 leave it", "[train][augment]") {
  train::TrainConfig c;
  c.augment = "mocov2", c.image_size = 28, c.in_channels = 3;
  auto preset = data::augment_preset("mocov2", 28, gray(), 3);
  auto same = train::training_views(c, gray());
  CHECK(same.first.scale_min == preset.first.scale_min);
  CHECK(same.first.brightness == preset.first.brightness);
  CHECK(same.first.hue == preset.first.hue);

  c.crop_scale_min = 0.45, c.jitter_strength = 0.5;
  auto changed = train::training_views(c, gray());
  for (auto* p : {&changed.first, &changed.second}) {
    CHECK(p->scale_min == 0.45f);
    CHECK(p->scale_max == preset.first.scale_max);
    CHECK(p->brightness == Approx(0.5 * preset.first.brightness));
    CHECK(p->contrast == Approx(0.5 * preset.first.contrast));
    CHECK(p->saturation == Approx(0.5 * preset.first.saturation));
    CHECK(p->hue == Approx(0.5 * preset.first.hue));
    CHECK(p->jitter_p == preset.first.jitter_p);  // how often, not how strong
  }
  // The un-augmented presets have no crop to change.
  c.augment = "none";
  auto none = train::training_views(c, gray());
  CHECK_FALSE(none.first.random_crop);
}

TEST_CASE("training views: out-of-range strength keys are refused with the key named", "[train][augment][errors]") {
  for (auto [kv, key] : {std::pair{"crop_scale_min=1.5", "crop_scale_min"}, std::pair{"crop_scale_min=-0.1", "crop_scale_min"},
                         std::pair{"jitter_strength=-1", "jitter_strength"}}) {
    nlohmann::json j = train::TrainConfig{}.to_json();
    train::apply_override(j, kv);
    CHECK_THROWS_WITH(train::config_from_json(j, "test"), Catch::Contains("'" + std::string(key) + "'"));
  }
}

TEST_CASE("config overrides: one value of a list key is a list of one", "[train][config]") {
  nlohmann::json j = train::TrainConfig{}.to_json();
  j["widths"] = {1.0, 0.5};
  train::apply_override(j, "widths=1.0");
  CHECK(j["widths"] == nlohmann::json::array({1.0}));
  CHECK(train::config_from_json(j, "test").widths == std::vector<double>{1.0});
  nlohmann::json fresh = nlohmann::json::object();  // a key the file does not set: the default's type
  train::apply_override(fresh, "widths=0.5");
  CHECK(fresh["widths"] == nlohmann::json::array({0.5}));
  train::apply_override(fresh, "lr=0.5");  // a number key stays a number
  CHECK(fresh["lr"] == 0.5);
}
