#include "kernels/device_info.h"
#include <cuda_runtime.h>
#include <stdexcept>

namespace slimssl::kernels {

DeviceInfo device_info(int device) {
  cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) throw std::runtime_error(std::string("cudaGetDeviceProperties: ") + cudaGetErrorString(e));
  DeviceInfo info;
  info.name = prop.name;
  info.multiprocessors = prop.multiProcessorCount;
  return info;
}

}  // namespace slimssl::kernels
