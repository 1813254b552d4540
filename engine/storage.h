// A flat, reference-counted allocation on one device. Tensors are views into a Storage.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include "engine/device.h"

namespace slimssl {

class GraphPool;

struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;

  static std::shared_ptr<Storage> allocate(size_t nbytes, Device device);
  ~Storage();
  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

 private:
  void* block_ = nullptr;  // what was allocated: data, or data minus the front guard
  size_t guard_ = 0;       // guard bytes on each side (0: unguarded)
  std::shared_ptr<GraphPool> pool_;  // the CUDA graph whose capture allocated it (engine/graph_pool.h)
};

// Byte copies between devices; either side may be the CPU. Synchronous with respect to the host.
void copy_bytes(void* dst, Device dst_device, const void* src, Device src_device, size_t nbytes);

// Test support (the op table): while a StorageGuards lives, every new storage on any device sits
// between two runs of canary bytes, checked when the storage is freed. A kernel that writes past
// either end of its output is counted, with the first offence described.
class StorageGuards {
 public:
  StorageGuards();
  ~StorageGuards();
  StorageGuards(const StorageGuards&) = delete;
  StorageGuards& operator=(const StorageGuards&) = delete;
  int64_t violations() const;
  std::string first_violation() const;
};

}  // namespace slimssl
