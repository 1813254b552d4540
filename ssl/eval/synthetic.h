// Labelled synthetic features with known structure, for the evaluation tests and demos: Gaussian
// blobs around orthogonal class centres (class c's centre is `radius` along axis c), so the
// classes are separable by construction when `spread` is small against `radius`.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace slimssl::eval {

struct LabelledFeatures {
  Tensor features;  // float32 [classes * per_class, dim], rows grouped by class
  Tensor labels;    // int64 [classes * per_class]
};

LabelledFeatures gaussian_blobs(int64_t classes, int64_t per_class, int64_t dim, double radius, double spread,
                                uint64_t seed);

}  // namespace slimssl::eval
