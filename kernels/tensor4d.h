// Geometry shared by the plain-pointer norm, pooling and packing kernels: a 4-d index space
// [n, c, h, w] (an [N, C] tensor is [N, C, 1, 1]) and element strides per operand, so one kernel
// reads NCHW, channels-last (NHWC strides) and views (channel slices, broadcasts with stride 0)
// alike. Host and device code (SLIMSSL_HD).
#pragma once
#include <cstdint>
#include "base/hd.h"

namespace slimssl::kernels {

struct Dims4 {
  int64_t n = 1, c = 1, h = 1, w = 1;
  SLIMSSL_HD int64_t numel() const { return n * c * h * w; }
};

struct Index4 {
  int64_t n, c, h, w;
};

struct Strides4 {
  int64_t n = 0, c = 0, h = 0, w = 0;
  SLIMSSL_HD int64_t at(const Index4& i) const { return i.n * n + i.c * c + i.h * h + i.w * w; }
};

inline Strides4 nchw_strides(const Dims4& d) { return {d.c * d.h * d.w, d.h * d.w, d.w, 1}; }
inline Strides4 nhwc_strides(const Dims4& d) { return {d.h * d.w * d.c, 1, d.w * d.c, d.c}; }

// Element i of the index space in row-major order over (n, c, h, w), or over (n, h, w, c) when
// `channels_inner` (consecutive threads then touch consecutive channels of a channels-last tensor).
SLIMSSL_HD Index4 unravel(int64_t i, const Dims4& d, bool channels_inner) {
  Index4 x;
  if (channels_inner) {
    x.c = i % d.c, i /= d.c;
    x.w = i % d.w, i /= d.w;
    x.h = i % d.h, x.n = i / d.h;
  } else {
    x.w = i % d.w, i /= d.w;
    x.h = i % d.h, i /= d.h;
    x.c = i % d.c, x.n = i / d.c;
  }
  return x;
}

}  // namespace slimssl::kernels
