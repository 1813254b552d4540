// A safetensors file: refused with an Error, or loaded; what loads must save and load back equal.
#include <cstring>
#include "engine/safetensors.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = slimssl::fuzz::scratch_file("input.safetensors", data, size);
  slimssl::fuzz::expect_clean([&] {
    slimssl::SafetensorsFile f = slimssl::load_safetensors(path);
    std::vector<std::pair<std::string, slimssl::Tensor>> named;
    for (size_t i = 0; i < f.names.size(); ++i) named.emplace_back(f.names[i], f.tensors[i]);
    std::string again = path + ".again";
    slimssl::save_safetensors(again, named, f.metadata);
    slimssl::SafetensorsFile g = slimssl::load_safetensors(again);
    if (g.names != f.names || g.metadata != f.metadata) __builtin_trap();
    for (size_t i = 0; i < f.tensors.size(); ++i) {
      const auto& a = f.tensors[i];
      const auto& b = g.tensors[i];
      if (a.shape() != b.shape() || a.dtype() != b.dtype() ||
          (a.numel() > 0 && std::memcmp(a.raw(), b.raw(), static_cast<size_t>(a.numel()) * a.itemsize()) != 0))
        __builtin_trap();
    }
  });
  return 0;
}
