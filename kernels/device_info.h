// What a benchmark reports about the GPU it ran on: plain values, no engine types.
#pragma once
#include <string>

namespace slimssl::kernels {

struct DeviceInfo {
  std::string name;        // e.g. "NVIDIA H200"
  int multiprocessors = 0;
};
// Throws std::runtime_error when the device cannot be queried.
DeviceInfo device_info(int device);

}  // namespace slimssl::kernels
