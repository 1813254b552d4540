// Feature files: a safetensors file holding "features" (float32 [N, D]) and "labels" (int64 [N])
// with string metadata saying what they are (run, checkpoint, split, width, transform, ...), the
// format `slimssl features` writes and the evaluation commands cache their extractions in, so a
// checkpoint's features are computed once per (split, transform, width) and any tool can read
// them (safetensors.torch.load_file).
#pragma once
#include <functional>
#include <map>
#include <string>
#include "engine/tensor.h"

namespace slimssl::eval {

struct FeatureFile {
  Tensor features;  // float32 [N, D]
  Tensor labels;    // int64 [N]
  std::map<std::string, std::string> metadata;
};

// Writes atomically; checks the dtypes and shapes first.
void save_feature_file(const std::string& path, const FeatureFile& f);
// Reads and checks: both tensors present, float32 [N, D] and int64 [N]; an Error names the file.
FeatureFile load_feature_file(const std::string& path);

// The features stored at `path` when the file exists, reads, and its metadata holds every entry
// of `key` with the same value; otherwise compute() is called, `key` is merged into its metadata,
// and the result is saved to `path` (a stale or unreadable cache is replaced, never trusted).
// `computed` (optional) says which happened.
FeatureFile cached_features(const std::string& path, const std::map<std::string, std::string>& key,
                            const std::function<FeatureFile()>& compute, bool* computed = nullptr);

}  // namespace slimssl::eval
