// The augmentation's random decisions (AugmentPipeline, ViewParams, sample_view_params() and the
// bit-identical float32 building blocks) are written once, in kernels/augment_params.h, for the CPU
// reference here and the CUDA kernel there (kernels/ may not include ssl/). The data layer uses
// them under its own namespace: slimssl::data::AugmentPipeline is slimssl::augment::AugmentPipeline.
#pragma once
#include "kernels/augment_params.h"

namespace slimssl::data {
using namespace slimssl::augment;
}  // namespace slimssl::data
