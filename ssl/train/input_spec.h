// What a trained network expects as input, as the run's eval transform prepares an image:
// resize (shorter side) to `resize`, centre crop `size` x `size`, replicate a gray image to
// `channels`, then per channel (pixel / 255 - mean) / std. The trainer records it in
// RUN_DIR/input.json; `slimssl export` copies it into the export's metadata so a deployment
// can prepare inputs without slimssl.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>
#include "ssl/data/augment_presets.h"
#include "ssl/train/config.h"

namespace slimssl::train {

struct InputSpec {
  int64_t size = 0, resize = 0, channels = 0;
  std::vector<double> mean, std;  // one per channel the model sees

  nlohmann::json to_json() const;
  static InputSpec from_json(const nlohmann::json& j, const std::string& origin);
  // safetensors metadata (strings): input_size, input_resize, input_channels, mean, std, normalize.
  std::map<std::string, std::string> metadata() const;
};

InputSpec input_spec(const TrainConfig& c, const data::Normalization& norm);
void save_input_spec(const std::string& run_dir, const InputSpec& spec);
// RUN_DIR/input.json, or none when the run predates it.
std::optional<InputSpec> load_input_spec(const std::string& run_dir);

}  // namespace slimssl::train
