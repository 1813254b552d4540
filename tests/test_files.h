// Where tests find files that live outside the test binary: the shipped configs and the shared
// data sets. Each comes from an environment variable, so a test binary that travels without its
// source tree (scripts/gpu_bundle.sh packs one) is pointed at the copies travelling with it; unset,
// each defaults to the source tree this binary was built from.
#pragma once
#include <cstdlib>
#include <string>

namespace slimssl::testing {

inline std::string dir_from_env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

// SLIMSSL_CONFIGS_DIR: the folder of shipped *.json configs (default: configs/ in the source tree).
inline std::string configs_dir() { return dir_from_env("SLIMSSL_CONFIGS_DIR", std::string(SLIMSSL_SOURCE_DIR) + "/configs"); }

// SLIMSSL_DATA_DIR: the folder holding the shared data sets, e.g. cifar10/ (default:
// ../shared/data beside the source tree).
inline std::string shared_data_dir() {
  return dir_from_env("SLIMSSL_DATA_DIR", std::string(SLIMSSL_SOURCE_DIR) + "/../shared/data");
}

}  // namespace slimssl::testing
