#include "ssl/train/input_spec.h"
#include <cstdio>
#include <filesystem>
#include <fstream>
#include "engine/error.h"

namespace slimssl::train {
namespace fs = std::filesystem;

InputSpec input_spec(const TrainConfig& c, const data::Normalization& norm) {
  // The eval pipeline itself says how it resizes and normalizes: one source for both.
  data::AugmentPipeline e = data::augment_preset("eval", static_cast<int>(c.image_size), norm,
                                                 static_cast<int>(c.in_channels)).first;
  InputSpec s;
  s.size = e.out_size, s.resize = e.resize_size > 0 ? e.resize_size : e.out_size;
  s.channels = e.channels > 0 ? e.channels : norm.channels;
  // The float constants at float precision ("0.286", not 0.28600001335144043).
  auto decimal = [](float v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", v);
    return std::stod(buf);
  };
  for (int64_t k = 0; k < s.channels; ++k) s.mean.push_back(decimal(e.mean[k])), s.std.push_back(decimal(e.std[k]));
  return s;
}

nlohmann::json InputSpec::to_json() const {
  return {{"size", size}, {"resize", resize}, {"channels", channels}, {"mean", mean}, {"std", std},
          {"normalize", "(pixel / 255 - mean) / std per channel, after resize and centre crop"}};
}

InputSpec InputSpec::from_json(const nlohmann::json& j, const std::string& origin) {
  InputSpec s;
  try {
    s.size = j.at("size"), s.resize = j.at("resize"), s.channels = j.at("channels");
    s.mean = j.at("mean").get<std::vector<double>>(), s.std = j.at("std").get<std::vector<double>>();
  } catch (const nlohmann::json::exception&) {
    fail("'", origin, "': expected {size, resize, channels, mean, std}");
  }
  SLIMSSL_CHECK(static_cast<int64_t>(s.mean.size()) == s.channels && static_cast<int64_t>(s.std.size()) == s.channels,
                "'", origin, "': mean and std need one value per channel");
  return s;
}

std::map<std::string, std::string> InputSpec::metadata() const {
  return {{"input_size", std::to_string(size)},
          {"input_resize", std::to_string(resize)},
          {"input_channels", std::to_string(channels)},
          {"mean", nlohmann::json(mean).dump()},
          {"std", nlohmann::json(std).dump()},
          {"normalize", to_json()["normalize"].get<std::string>()}};
}

void save_input_spec(const std::string& run_dir, const InputSpec& spec) {
  std::ofstream(fs::path(run_dir) / "input.json") << spec.to_json().dump(2) << "\n";
}

std::optional<InputSpec> load_input_spec(const std::string& run_dir) {
  fs::path p = fs::path(run_dir) / "input.json";
  if (!fs::is_regular_file(p)) return std::nullopt;
  std::ifstream in(p);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  SLIMSSL_CHECK(!j.is_discarded(), "'", p.string(), "': not valid JSON");
  return InputSpec::from_json(j, p.string());
}

}  // namespace slimssl::train
