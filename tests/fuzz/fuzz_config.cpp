// A training configuration: JSON text (comments allowed, as load_config reads it) parsed and
// validated; the last line, if it looks like key=value, is applied as a command-line override.
#include <nlohmann/json.hpp>
#include "fuzz_input.h"
#include "ssl/train/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  size_t nl = text.rfind('\n');
  std::vector<std::string> overrides;
  if (nl != std::string::npos && text.find('=', nl) != std::string::npos) {
    overrides.push_back(text.substr(nl + 1));
    text.resize(nl);
  }
  std::string path = slimssl::fuzz::scratch_file("config.json", reinterpret_cast<const uint8_t*>(text.data()), text.size());
  slimssl::fuzz::expect_clean([&] { slimssl::train::load_config(path, overrides); });
  return 0;
}
