// The augmentations on the GPU (docs/data.md, "The device path"). A small data set lives on the
// device as one uint8 tensor, uploaded once; each batch's two views are made there by the kernels of
// kernels/augment.h, with the CPU reference's random decisions for the same (seed, epoch, index,
// view) (the same sample_view_params(), called on the device) and its pixel values within 1/255
// before normalization, i.e. 1 / (255 std[c]) after. A set too large for the device streams instead:
// the CPU decoder's uint8 images of one batch go up through pinned staging (make_views_streamed).
//
// Outputs: float32 or bfloat16 [B, C, S, S], contiguous or channels-last (NHWC strides), or any
// caller tensors (render_views_device: fixed addresses, as a captured CUDA graph needs). All work is
// queued on the device's stream; nothing waits for the device unless said so.
// Built without CUDA, every function here throws an Error saying so.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include "ssl/data/augment.h"
#include "ssl/data/dataset.h"

namespace slimssl::data {

// A data set resident on a CUDA device.
struct DeviceDataset {
  std::string name;
  Tensor images;  // uint8 [N, H, W, C] (C = 1 or 3), contiguous, on the device
  Tensor labels;  // int64 [N] on the same device

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t height() const { return images.size(1); }
  int64_t width() const { return images.size(2); }
  int64_t channels() const { return images.size(3); }
  Device device() const { return images.device(); }
};

// Copies ds's images and labels to `device` once, through the device context's pinned staging
// (4 MiB chunks in two buffers: it waits for its own earlier chunks, so upload before queuing a
// step's work). The device side completes in stream order.
DeviceDataset upload_dataset(const Dataset& ds, Device device = Device::cuda(0));

struct DeviceViewFormat {
  DType dtype = DType::F32;    // F32 or BF16
  bool channels_last = false;  // NHWC strides; the shape stays [B, C, S, S]
};

// make_views() on the device: view 0 through p1, view 1 through p2; labels and indices are device
// int64 [B]. Host indices are range-checked on the host.
TwoViewBatch make_views_device(const DeviceDataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p1,
                               const AugmentPipeline& p2, uint64_t seed, uint32_t epoch,
                               const DeviceViewFormat& format = {});

// The same with indices as an int64 [B] tensor on the CPU or on ds's device. Device indices are
// checked by the kernel: with check_indices it reads back whether one was out of range (this
// waits for the device) and throws naming it; without (a step that must not wait, or a CUDA graph)
// an out-of-range index gives an all-NaN view and label -1, and nothing outside the set is read.
TwoViewBatch make_views_device(const DeviceDataset& ds, const Tensor& indices, const AugmentPipeline& p1,
                               const AugmentPipeline& p2, uint64_t seed, uint32_t epoch,
                               const DeviceViewFormat& format = {}, bool check_indices = true);

// Into the caller's device tensors: view1, view2 [B, C, S, S] float32 or bfloat16 with any strides
// (view2 undefined: only the first view is made), labels int64 [B] or undefined.
void render_views_device(const DeviceDataset& ds, const Tensor& indices, const AugmentPipeline& p1,
                         const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, const Tensor& view1,
                         const Tensor& view2, const Tensor& labels, bool check_indices = true);

// augment_batch() on the device: one view per index through p, view number `view`.
Tensor augment_batch_device(const DeviceDataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p,
                            uint64_t seed, uint32_t epoch, uint32_t view, const DeviceViewFormat& format = {});

// A set that does not live on the device: `images` is the batch's uint8 [B, H, W, C] on the CPU
// (what the decoder made for these indices), `labels` int64 [B] on the CPU or undefined. Images,
// labels and indices are copied on this thread into a pinned staging slot (ssl/data/batch_staging.h),
// their device copies queued on the stream (the host tensors may be reused when this returns; it
// does not wait for the device), and the views are made from them, keyed by `indices` exactly as
// make_views_device keys them.
TwoViewBatch make_views_streamed(const Tensor& images, const Tensor& labels, const std::vector<int64_t>& indices,
                                 const AugmentPipeline& p1, const AugmentPipeline& p2, uint64_t seed, uint32_t epoch,
                                 Device device = Device::cuda(0), const DeviceViewFormat& format = {});

// The decisions the device draws for view `view` of each index through p (waits for the device):
// what the tests hold against sample_view_params() on the host.
std::vector<ViewParams> device_view_params(const DeviceDataset& ds, const std::vector<int64_t>& indices,
                                           const AugmentPipeline& p, uint64_t seed, uint32_t epoch, uint32_t view);

}  // namespace slimssl::data
