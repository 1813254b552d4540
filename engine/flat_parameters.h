// Parameters and their gradients in one flat buffer per dtype. FlatParameters moves each
// parameter's values into a slice of one contiguous buffer (in place: the tensor keeps its
// identity, so every module holding it sees the move) and gives it a persistent gradient, a slice
// of a matching gradient buffer that backward passes add into and zero_grad zeroes in place.
// Addresses never change afterwards, which is what a captured CUDA graph needs, and the fused
// optimizer kernels take a whole buffer in one launch.
#pragma once
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

class FlatParameters {
 public:
  struct Slot {
    Tensor param;
    int64_t offset = 0;  // elements into its dtype's buffer
  };
  struct Group {
    DType dtype;
    Tensor values;  // [total] contiguous
    Tensor grads;   // [total] contiguous, zero after zero_grad()
    std::vector<Slot> slots;
  };

  FlatParameters() = default;
  // `params` must be distinct leaves on one device; they may already hold values anywhere.
  // Each slice starts on a 64-element boundary (256 bytes of float32: vector-aligned).
  explicit FlatParameters(const std::vector<Tensor>& params);

  void zero_grad();  // one fill per buffer
  const std::vector<Group>& groups() const { return groups_; }
  bool empty() const { return groups_.empty(); }

 private:
  std::vector<Group> groups_;
};

}  // namespace slimssl
