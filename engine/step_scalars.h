// The values a training step reads that change from step to step (the step number, the
// learning rate, the key encoder's momentum, the queue's write position) in one small buffer on
// the step's device. The host writes this step's values into a host image and upload() copies it
// with one asynchronous copy before the step's work is queued; kernels and ops read the values
// from fixed device addresses. So the step's device work is the same on every step (its launch
// arguments never change) and a CUDA graph captured once stays valid as the values move on.
//
// Stream order keeps the values of consecutive steps apart: the copy for step k + 1 is queued
// after step k's work, so step k has read its values before they are overwritten.
#pragma once
#include <cstddef>
#include <cstring>
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

class StepScalars {
 public:
  static constexpr size_t kCapacity = 1024;  // bytes; a step needs a few dozen

  explicit StepScalars(Device device);
  StepScalars(const StepScalars&) = delete;
  StepScalars& operator=(const StepScalars&) = delete;

  Device device() const { return device_; }
  // Reserves `bytes` at an offset aligned to `align` (a power of two up to 16) and returns it.
  size_t reserve(size_t bytes, size_t align = 8);
  // A 0-d tensor of `dtype` viewing the slot at `offset` (reserved with that dtype's size).
  Tensor scalar(size_t offset, DType dtype) const;
  // The device address of the slot at `offset` (for kernels that take a pointer).
  const void* device_address(size_t offset) const;
  // Writes `value` into the host image at `offset` (sent by the next upload()).
  template <class T>
  void set(size_t offset, const T& value) {
    check_slot(offset, sizeof(T));
    std::memcpy(host_.data() + offset, &value, sizeof(T));
  }
  // One copy of the host image (the reserved part) into the device buffer, queued behind the
  // work already queued on the device.
  void upload();

 private:
  void check_slot(size_t offset, size_t bytes) const;
  Device device_;
  Tensor buffer_;  // uint8 [kCapacity] on device_
  std::vector<unsigned char> host_;
  size_t used_ = 0;
};

}  // namespace slimssl
