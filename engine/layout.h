// Memory layout is a property of strides. New outputs follow their input's layout: an op on a
// channels-last activation (NHWC strides, logical NCHW shape) writes a channels-last result, so
// the layout a GPU network chooses at its input persists through elementwise ops, norms, pools
// and convolutions without conversions.
#pragma once
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

// The order of t's dimensions from outermost to innermost when t is dense (no gaps, no overlap,
// no broadcast), else the row-major order 0, 1, ..., rank-1.
std::vector<int64_t> dim_order(const Tensor& t);
// Strides of a dense tensor of `shape` laid out in `order` (outermost first).
Shape strides_in_order(const Shape& shape, const std::vector<int64_t>& order);
// An uninitialized tensor of `shape` whose dimensions are laid out in `like`'s order.
Tensor empty_like_layout(const Tensor& like, const Shape& shape, DType dtype);
inline Tensor empty_like_layout(const Tensor& like) { return empty_like_layout(like, like.shape(), like.dtype()); }

// Channels-last: [N, C, H, W] with strides [H*W*C, 1, W*C, C].
bool is_channels_last(const Tensor& t);
Tensor to_channels_last(const Tensor& t);  // differentiable copy (the tensor itself when it already is)

}  // namespace slimssl
