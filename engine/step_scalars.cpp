#include "engine/step_scalars.h"
#include "engine/storage.h"

namespace slimssl {

StepScalars::StepScalars(Device device)
    : device_(device), buffer_(Tensor::zeros({static_cast<int64_t>(kCapacity)}, DType::U8, device)),
      host_(kCapacity, 0) {}

size_t StepScalars::reserve(size_t bytes, size_t align) {
  SLIMSSL_CHECK(align > 0 && align <= 16 && (align & (align - 1)) == 0, "step scalars: alignment ", align,
                " must be a power of two up to 16");
  const size_t at = (used_ + align - 1) / align * align;
  SLIMSSL_CHECK(at + bytes <= kCapacity, "step scalars: ", bytes, " more bytes do not fit in ", kCapacity,
                " (", used_, " used)");
  used_ = at + bytes;
  return at;
}

void StepScalars::check_slot(size_t offset, size_t bytes) const {
  SLIMSSL_CHECK(offset + bytes <= used_, "step scalars: bytes [", offset, ", ", offset + bytes,
                ") were not reserved (", used_, " are)");
}

Tensor StepScalars::scalar(size_t offset, DType dtype) const {
  const size_t size = dtype_size(dtype);
  check_slot(offset, size);
  SLIMSSL_CHECK(offset % size == 0, "step scalars: offset ", offset, " is not aligned for ", dtype_name(dtype));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = buffer_.storage();
  impl->offset = static_cast<int64_t>(offset / size);
  impl->dtype = dtype;
  return Tensor(impl);
}

const void* StepScalars::device_address(size_t offset) const {
  check_slot(offset, 1);
  return static_cast<const unsigned char*>(buffer_.storage()->data) + offset;
}

void StepScalars::upload() {
  if (used_ == 0) return;
  copy_bytes(buffer_.storage()->data, device_, host_.data(), Device::cpu(), used_);
}

}  // namespace slimssl
