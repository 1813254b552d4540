// 3x3 stride-1 float32 convolutions by Winograd's F(4x4, 3x3): each 4x4 block of outputs costs
// 36 multiplies per (input, output) channel pair instead of 144, and the multiplies are 36
// ordinary gemms (one per tile position) on the CPU backend's blocked gemm. conv.cpp routes the
// shapes where this beats im2col + gemm here (winograd_pays).
#pragma once
#include <cstdint>

namespace slimssl::cpu {

// A 3x3, stride-1, undilated, ungrouped convolution.
struct Winograd3x3 {
  int64_t N, C, H, W;    // input
  int64_t O, OH, OW;     // output channels and map (OH = H + 2 * pad_h - 2)
  int64_t pad_h, pad_w;  // any padding >= 0
  int64_t sN, sC, sH;    // input strides in elements; unit stride along W
};

// Whether F(4x4, 3x3) is measured faster than im2col + gemm on this shape, for the forward (or
// a data gradient's shape) or for the weight gradient (rule in winograd.cpp).
bool winograd_pays(const Winograd3x3& s, bool weight_gradient = false);

// y (contiguous [N, O, OH, OW]) = conv(x, w) + bias. w is [O, C*9] with row pitch ldw; bias may be null.
void winograd_forward(const Winograd3x3& s, const float* x, const float* w, int64_t ldw, const float* bias, float* y);

// The data gradient of a stride-1 conv is the conv of gy (padded by 2 - pad) with the weight
// turned by 180 degrees, in and out channels swapped: this shape (input gy, output dx). Needs
// pad <= 2.
Winograd3x3 data_gradient_shape(const Winograd3x3& s);

// dx (contiguous [N, C, H, W]) = the data gradient of the conv s, from gy (contiguous
// [N, O, OH, OW]) and the forward's weight w ([O, C*9], row pitch ldw), flipped as it is read.
void winograd_backward_data(const Winograd3x3& s, const float* gy, const float* w, int64_t ldw, float* dx);

// dw[o * lddw + c * 9 + k] += the weight gradient, from x and gy (contiguous [N, O, OH, OW]).
void winograd_backward_weight(const Winograd3x3& s, const float* x, const float* gy, float* dw, int64_t lddw);

}  // namespace slimssl::cpu
