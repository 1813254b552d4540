// A flat, reference-counted allocation on one device. Tensors are views into a Storage.
#pragma once
#include <cstddef>
#include <memory>
#include "engine/device.h"

namespace slimssl {

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;

  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  ~Storage();
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Byte copies between devices; either side may be the CPU. Synchronous with respect to the host.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

}  // namespace slimssl
