// The CPU reference of the contrastive augmentations: uint8 HWC images in, float32 CHW
// normalized views out. Parameters come from sample_view_params() (augment_params.h), the same
// function a CUDA kernel calls, so both make identical random decisions.
//
// Pixel values are float32 in [0, 1] from the resample to the normalization; colour steps clamp
// to [0, 1] (torchvision's float-tensor path) and are not requantized to uint8 between steps.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "engine/tensor.h"
#include "ssl/data/augment_params.h"
#include "ssl/data/dataset.h"

namespace slimssl::data {

// The largest view (out_size, resize_size): crop areas stay exact in float32 up to 4096 x 4096.
constexpr int32_t kMaxViewSize = 4096;

// Throws an Error naming the field when a pipeline is out of range for images with
// `in_channels` channels (probabilities in [0, 1], hue in [0, 0.5], positive std, finite
// numbers, sizes up to kMaxViewSize, ...).
void check_pipeline(const AugmentPipeline& p, int64_t in_channels, const std::string& what = "augment");

// Output channels for images with `in_channels` channels.
int output_channels(const AugmentPipeline& p, int64_t in_channels);
// Gaussian blur kernel size: blur_kernel, or about 10% of out_size, odd, at least 3.
int blur_kernel_size(const AugmentPipeline& p);

// Renders one view of an H x W x C uint8 image into out[output_channels][out_size][out_size].
void render_view(const uint8_t* image, int H, int W, int C, const AugmentPipeline& p, const ViewParams& v, float* out);

// ---- the individual steps on a float CHW image in [0, 1] (exposed for known-answer tests) ----
void adjust_brightness(float* img, int C, int64_t hw, float factor);
void adjust_contrast(float* img, int C, int64_t hw, float factor);
void adjust_saturation(float* img, int C, int64_t hw, float factor);
void adjust_hue(float* img, int C, int64_t hw, float shift);
void to_grayscale(float* img, int C, int64_t hw);
void gaussian_blur(float* img, int C, int size, int kernel, float sigma);
void solarize(float* img, int C, int64_t hw, float threshold);
void normalize(float* img, int C, int64_t hw, const float* mean, const float* std);

struct TwoViewBatch {
  Tensor view1, view2;  // float32 [B, C, S, S]
  Tensor labels;        // int64 [B]
  Tensor indices;       // int64 [B]: the data set indices the views came from
};

// Two views of each indexed image: view 0 through p1, view 1 through p2, every decision keyed by
// (seed, epoch, data set index, view). threads: OpenMP threads (0 = the default).
TwoViewBatch make_views(const Dataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p1,
                        const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, int threads = 0);

// One view per indexed image through p (view number `view`): the eval transform, or any pipeline.
Tensor augment_batch(const Dataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p, uint64_t seed,
                     uint32_t epoch, uint32_t view, int threads = 0);

}  // namespace slimssl::data
