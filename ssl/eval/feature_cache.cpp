#include "ssl/eval/feature_cache.h"
#include <filesystem>
#include "engine/safetensors.h"

namespace slimssl::eval {
namespace fs = std::filesystem;

namespace {
void check_pair(const std::string& path, const Tensor& x, const Tensor& y) {
  SLIMSSL_CHECK(x.defined() && x.dim() == 2 && x.dtype() == DType::F32, "feature file '", path,
                "': 'features' must be float32 [N, D], got ", x.defined() ? dtype_name(x.dtype()) : "nothing", " ",
                x.defined() ? shape_str(x.shape()) : "");
  SLIMSSL_CHECK(y.defined() && y.dim() == 1 && y.dtype() == DType::I64 && y.size(0) == x.size(0), "feature file '",
                path, "': 'labels' must be int64 [", x.size(0), "], got ", y.defined() ? dtype_name(y.dtype()) : "nothing",
                " ", y.defined() ? shape_str(y.shape()) : "");
}
}  // namespace

void save_feature_file(const std::string& path, const FeatureFile& f) {
  check_pair(path, f.features, f.labels);
  fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent);
  save_safetensors(path, {{"features", f.features}, {"labels", f.labels}}, f.metadata);
}

FeatureFile load_feature_file(const std::string& path) {
  SafetensorsFile st = load_safetensors(path);
  SLIMSSL_CHECK(st.contains("features") && st.contains("labels"), "feature file '", path,
                "': expected tensors 'features' and 'labels'");
  FeatureFile f{st.at("features"), st.at("labels"), st.metadata};
  check_pair(path, f.features, f.labels);
  return f;
}

FeatureFile cached_features(const std::string& path, const std::map<std::string, std::string>& key,
                            const std::function<FeatureFile()>& compute, bool* computed) {
  if (fs::is_regular_file(path)) {
    try {
      FeatureFile f = load_feature_file(path);
      bool match = true;
      for (auto& [k, v] : key) {
        auto it = f.metadata.find(k);
        match = match && it != f.metadata.end() && it->second == v;
      }
      if (match) {
        if (computed) *computed = false;
        return f;
      }
    } catch (const Error&) {
      // A torn or foreign file is recomputed and overwritten below.
    }
  }
  FeatureFile f = compute();
  for (auto& [k, v] : key) f.metadata[k] = v;
  save_feature_file(path, f);
  if (computed) *computed = true;
  return f;
}

}  // namespace slimssl::eval
