// The contrastive augmentations as batch kernels: uint8 images on the device in, the views of a
// batch out (float32 or bfloat16, any element strides: NCHW, channels-last, views of larger
// buffers). Every random decision is sample_view_params() (kernels/augment_params.h) called on the
// device, so a view has exactly the crop box, flip, jitter factors and order, grayscale, blur sigma
// and solarize of the CPU reference (ssl/data/augment.cpp) for the same (seed, epoch, index, view);
// the pixel arithmetic is the reference's, in float32, in another order (docs/data.md, "The device
// path": pixels agree within 1/255 before normalization).
//
// Two kernels, both queued on the caller's stream:
//   augment_draw    one thread per (view, item): the view's ViewParams into a caller buffer, the
//                   item's label, and a flag for an index out of range;
//   augment_render  one block of kAugmentThreads per (item, view): the bilinear axis tables and the
//                   blur weights in shared memory, then passes over the view's pixels (a thread per
//                   pixel, striding by the block): resample + colour steps up to ColorJitter's
//                   contrast, the block's luma sum for the contrast mean, the remaining steps, the
//                   separable blur through a second buffer, solarize, normalize, store. The view's
//                   float32 working image stays in shared memory up to kAugmentSmemBytes, beyond
//                   that in caller-provided scratch (augment_scratch_bytes). docs/kernels.md.
#pragma once
#include <cuda_runtime_api.h>
#include <cstddef>
#include <cstdint>
#include "base/dtype.h"
#include "kernels/augment_params.h"
#include "kernels/tensor4d.h"

namespace slimssl::kernels {

constexpr int kAugmentThreads = 128;                    // threads of a render block
constexpr size_t kAugmentSmemBytes = size_t{48} << 10;  // a render block's shared memory at most

// Where the batch's images are: uint8 [count, height, width, channels] contiguous on the device.
struct AugmentSource {
  const uint8_t* images = nullptr;
  int64_t count = 0;
  int32_t height = 0, width = 0, channels = 0;  // channels 1 or 3
  // false: item b reads images[indices[b]] (a data set resident on the device);
  // true: item b reads images[b] (a batch staged on its own; indices are only the RNG keys).
  bool by_position = false;
  const int64_t* labels = nullptr;  // device int64, one per image (indexed as the images), or null
};

// One view of every item: [batch, C, S, S] written at `out` through element strides (n, c, h, w).
struct AugmentView {
  augment::AugmentPipeline pipeline;  // blur_kernel resolved (odd, > 0) when blur_p > 0
  uint32_t view = 0;                  // the view number of the RNG key (0 first, 1 second)
  DType dtype = DType::F32;           // F32 or BF16
  void* out = nullptr;
  Strides4 strides;
};

struct AugmentBatch {
  const int64_t* indices = nullptr;  // device int64 [batch]: data set indices, the RNG keys
  int32_t batch = 0;
  uint64_t seed = 0;
  uint32_t epoch = 0;
  int32_t views = 2;  // 1 or 2
  AugmentView view[2];
  int64_t* labels_out = nullptr;  // device int64 [batch] (-1 for an index out of range), or null
};

// Output channels of a view: the pipeline's, or the source's when it says 0.
inline int augment_out_channels(const augment::AugmentPipeline& p, int src_channels) {
  return p.channels > 0 ? p.channels : src_channels;
}

// Throws an Error naming what is wrong with the arguments (the pipelines' own ranges are the
// caller's to check: ssl/data's check_pipeline).
void augment_check(const AugmentSource& src, const AugmentBatch& b);

// Device scratch bytes augment_render needs: 0 when every view's working image fits in shared
// memory (32 px RGB does), else views x batch x the largest view's float32 working images.
size_t augment_scratch_bytes(const AugmentSource& src, const AugmentBatch& b);

// Draws every view's parameters into `params` (device [views * batch], view-major) and writes
// labels_out. *bad_index (a device int, or null) is zeroed first; an index outside [0, count)
// (resident source) or [0, 2^32) (staged batch) sets it to 1, gives label -1 and a ViewParams with height 0, which
// augment_render turns into an all-NaN view; nothing out of range is read.
void augment_draw(const AugmentSource& src, const AugmentBatch& b, augment::ViewParams* params, int* bad_index,
                  cudaStream_t stream);

// Renders every view from the parameters augment_draw wrote.
void augment_render(const AugmentSource& src, const AugmentBatch& b, const augment::ViewParams* params,
                    void* scratch, cudaStream_t stream);

}  // namespace slimssl::kernels
