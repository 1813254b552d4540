#pragma once
#include <string>

namespace slimssl {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::CUDA, i}; }
};

// True when the engine was built with CUDA and a CUDA device is present at run time (in an
// EMULATE build, the emulated device).
bool cuda_available();
// True for a build whose CUDA device is the CPU emulation (kernels/dev/emu).
bool cuda_emulated();
// Where work goes when the user says "auto": the first GPU when there is one (never the
// emulated device: it is a test fixture, thousands of times slower than the CPU), else the CPU.
Device default_device();

}  // namespace slimssl
