#include "ssl/data/device_views.h"
#include "engine/error.h"
#ifdef SLIMSSL_WITH_CUDA
#include <cstdint>
#include "engine/cuda/cuda_backend.h"
#include "kernels/augment.h"
#include "ssl/data/batch_staging.h"
#endif

namespace slimssl::data {

#ifdef SLIMSSL_WITH_CUDA
namespace {

cuda::CudaContext& context_of(Device d) {
  SLIMSSL_CHECK(d.is_cuda(), "device augmentation: ", d.str(), " is not a CUDA device");
  return cuda::cuda_backend(d.index).context();
}

// One view to render: its pipeline, its number in the RNG key, where it goes.
struct Target {
  AugmentPipeline p;
  uint32_t view;
  Tensor out;
};

// A host tensor's bytes on `device`: a data set once, through the context's pinned staging.
Tensor to_device(const Tensor& host, Device device) {
  Tensor dev = Tensor::empty(host.shape(), host.dtype(), device);
  context_of(device).upload(dev.raw(), host.raw(), host.numel() * host.itemsize());
  return dev;
}

// A batch's host indices on `device`, through the batch staging slots (they never wait for work
// queued after their previous use: ssl/data/batch_staging.h).
Tensor indices_to_device(const int64_t* host, int64_t n, Device device) {
  Tensor dev = Tensor::empty({n}, DType::I64, device);
  stage_to_device(device, {{host, dev.raw(), static_cast<size_t>(n) * 8}});
  return dev;
}

void check_host_indices(const std::vector<int64_t>& indices, int64_t limit, const char* op) {
  for (int64_t i : indices)
    SLIMSSL_CHECK(i >= 0 && i < limit && i <= int64_t(UINT32_MAX), op, ": index ", i, " out of range for ", limit,
                  " images");
}

Tensor allocate_view(int64_t batch, int channels, int size, Device device, const DeviceViewFormat& f) {
  SLIMSSL_CHECK(f.dtype == DType::F32 || f.dtype == DType::BF16,
                "device augmentation: views are float32 or bfloat16, not ", dtype_name(f.dtype));
  if (f.channels_last) return Tensor::empty({batch, size, size, channels}, f.dtype, device).permute({0, 3, 1, 2});
  return Tensor::empty({batch, channels, size, size}, f.dtype, device);
}

kernels::Strides4 strides4(const Tensor& t) { return {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

// Queues draw + render of `targets` for the items of `indices` (int64 [B] on `device`).
// read_back: wait for the device and throw if an index was out of range. params_out: the drawn
// decisions, downloaded (waits too).
void render(const char* op, kernels::AugmentSource src, Device device, const Tensor& indices, std::vector<Target> targets,
            uint64_t seed, uint32_t epoch, const Tensor& labels_out, bool read_back,
            std::vector<ViewParams>* params_out = nullptr) {
  const int64_t batch = indices.size(0);
  SLIMSSL_CHECK(batch <= INT32_MAX, op, ": batch of ", batch, " is too large");
  kernels::AugmentBatch b;
  b.indices = indices.data<int64_t>();
  b.batch = static_cast<int32_t>(batch);
  b.seed = seed;
  b.epoch = epoch;
  b.views = static_cast<int32_t>(targets.size());
  for (size_t j = 0; j < targets.size(); ++j) {
    Target& t = targets[j];
    const std::string what = std::string(op) + (j == 0 ? ": first pipeline" : ": second pipeline");
    check_pipeline(t.p, src.channels, what);
    if (t.p.blur_p > 0) t.p.blur_kernel = blur_kernel_size(t.p);
    const int oc = output_channels(t.p, src.channels), S = t.p.out_size;
    kernels::AugmentView& v = b.view[j];
    v.pipeline = t.p;
    v.view = t.view;
    if (t.out.defined()) {
      const Shape want{batch, oc, S, S};
      SLIMSSL_CHECK(t.out.device() == device && t.out.shape() == want &&
                        (t.out.dtype() == DType::F32 || t.out.dtype() == DType::BF16),
                    op, ": view ", j + 1, " must be a float32 or bfloat16 ", shape_str(want), " tensor on ",
                    device.str(), ", got ", dtype_name(t.out.dtype()), " ", shape_str(t.out.shape()), " on ",
                    t.out.device().str());
      v.dtype = t.out.dtype();
      v.out = t.out.raw();
      v.strides = strides4(t.out);
    }
  }
  if (labels_out.defined()) {
    SLIMSSL_CHECK(labels_out.device() == device && labels_out.dtype() == DType::I64 &&
                      labels_out.shape() == Shape{batch},
                  op, ": labels must be an int64 [", batch, "] tensor on ", device.str());
    b.labels_out = labels_out.data<int64_t>();
  }
  kernels::augment_check(src, b);
  if (batch == 0) return;

  cuda::CudaContext& ctx = context_of(device);
  const size_t param_bytes = sizeof(ViewParams) * b.views * batch;
  const std::vector<void*> ws = ctx.workspaces({param_bytes, sizeof(int), kernels::augment_scratch_bytes(src, b)});
  auto* params = static_cast<ViewParams*>(ws[0]);
  int* bad = static_cast<int*>(ws[1]);
  kernels::augment_draw(src, b, params, bad, ctx.stream());
  if (b.view[0].out) kernels::augment_render(src, b, params, ws[2], ctx.stream());
  if (params_out) {
    params_out->resize(b.views * batch);
    ctx.download(params_out->data(), params, param_bytes);
  }
  if (read_back) {
    int flag = 0;
    ctx.download(&flag, bad, sizeof(int));
    if (flag) {
      std::vector<int64_t> host(batch);
      ctx.download(host.data(), indices.raw(), batch * sizeof(int64_t));
      const int64_t limit = src.by_position ? int64_t{1} << 32 : src.count;
      check_host_indices(host, limit, op);
      fail(op, ": an index was out of range");  // not reached: the host check names it
    }
  }
}

kernels::AugmentSource source_of(const DeviceDataset& ds, const char* op) {
  SLIMSSL_CHECK(ds.images.defined() && ds.images.dtype() == DType::U8 && ds.images.dim() == 4 &&
                    ds.images.is_contiguous() && ds.device().is_cuda(),
                op, ": the device data set's images must be a contiguous uint8 [N, H, W, C] tensor on a CUDA device");
  SLIMSSL_CHECK(ds.labels.defined() && ds.labels.dtype() == DType::I64 && ds.labels.shape() == Shape{ds.size()} &&
                    ds.labels.device() == ds.device(),
                op, ": the device data set's labels must be int64 [", ds.size(), "] on ", ds.device().str());
  kernels::AugmentSource s;
  s.images = ds.images.data<uint8_t>();
  s.count = ds.size();
  s.height = static_cast<int32_t>(ds.height());
  s.width = static_cast<int32_t>(ds.width());
  s.channels = static_cast<int32_t>(ds.channels());
  s.labels = ds.labels.data<int64_t>();
  return s;
}

// indices (CPU or device int64 [B]) on ds's device; `checked`: whether the kernel must report range.
Tensor indices_on(const DeviceDataset& ds, const Tensor& indices, const char* op, bool& on_host) {
  SLIMSSL_CHECK(indices.defined() && indices.dtype() == DType::I64 && indices.dim() == 1 && indices.is_contiguous(),
                op, ": indices must be a contiguous int64 [B] tensor");
  on_host = indices.device().is_cpu();
  if (!on_host) {
    SLIMSSL_CHECK(indices.device() == ds.device(), op, ": indices on ", indices.device().str(),
                  ", the data set on ", ds.device().str());
    return indices;
  }
  const int64_t* p = indices.data<int64_t>();
  check_host_indices(std::vector<int64_t>(p, p + indices.numel()), ds.size(), op);
  return indices_to_device(p, indices.numel(), ds.device());
}

TwoViewBatch two_views(const char* op, const kernels::AugmentSource& src, Device device, const Tensor& indices,
                       const AugmentPipeline& p1, const AugmentPipeline& p2, uint64_t seed, uint32_t epoch,
                       const DeviceViewFormat& f, bool read_back) {
  const int64_t batch = indices.size(0);
  TwoViewBatch out;
  out.view1 = allocate_view(batch, output_channels(p1, src.channels), p1.out_size, device, f);
  out.view2 = allocate_view(batch, output_channels(p2, src.channels), p2.out_size, device, f);
  out.labels = Tensor::empty({batch}, DType::I64, device);
  out.indices = indices;
  render(op, src, device, indices, {{p1, 0, out.view1}, {p2, 1, out.view2}}, seed, epoch, out.labels, read_back);
  return out;
}

}  // namespace

DeviceDataset upload_dataset(const Dataset& ds, Device device) {
  SLIMSSL_CHECK(ds.images.defined() && ds.images.dtype() == DType::U8 && ds.images.dim() == 4 &&
                    ds.images.is_contiguous() && ds.images.device().is_cpu(),
                "upload_dataset: ", ds.name, ": images must be a contiguous uint8 [N, H, W, C] tensor on the CPU");
  SLIMSSL_CHECK(ds.labels.defined() && ds.labels.dtype() == DType::I64 && ds.labels.is_contiguous() &&
                    ds.labels.shape() == Shape{ds.size()},
                "upload_dataset: ", ds.name, ": labels must be int64 [", ds.size(), "]");
  DeviceDataset d;
  d.name = ds.name;
  d.images = to_device(ds.images, device);
  d.labels = to_device(ds.labels, device);
  return d;
}

TwoViewBatch make_views_device(const DeviceDataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p1,
                               const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, const DeviceViewFormat& f) {
  const Tensor host = Tensor::from_vector<int64_t>(indices, {static_cast<int64_t>(indices.size())});
  return make_views_device(ds, host, p1, p2, seed, epoch, f, true);
}

TwoViewBatch make_views_device(const DeviceDataset& ds, const Tensor& indices, const AugmentPipeline& p1,
                               const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, const DeviceViewFormat& f,
                               bool check_indices) {
  const char* op = "make_views_device";
  const kernels::AugmentSource src = source_of(ds, op);
  bool on_host = false;
  const Tensor idx = indices_on(ds, indices, op, on_host);
  return two_views(op, src, ds.device(), idx, p1, p2, seed, epoch, f, check_indices && !on_host);
}

void render_views_device(const DeviceDataset& ds, const Tensor& indices, const AugmentPipeline& p1,
                         const AugmentPipeline& p2, uint64_t seed, uint32_t epoch, const Tensor& view1,
                         const Tensor& view2, const Tensor& labels, bool check_indices) {
  const char* op = "render_views_device";
  const kernels::AugmentSource src = source_of(ds, op);
  SLIMSSL_CHECK(view1.defined(), op, ": view1 is required");
  bool on_host = false;
  const Tensor idx = indices_on(ds, indices, op, on_host);
  std::vector<Target> targets{{p1, 0, view1}};
  if (view2.defined()) targets.push_back({p2, 1, view2});
  render(op, src, ds.device(), idx, targets, seed, epoch, labels, check_indices && !on_host);
}

Tensor augment_batch_device(const DeviceDataset& ds, const std::vector<int64_t>& indices, const AugmentPipeline& p,
                            uint64_t seed, uint32_t epoch, uint32_t view, const DeviceViewFormat& f) {
  const char* op = "augment_batch_device";
  const kernels::AugmentSource src = source_of(ds, op);
  check_host_indices(indices, ds.size(), op);
  const int64_t batch = static_cast<int64_t>(indices.size());
  const Tensor idx = indices_to_device(indices.data(), batch, ds.device());
  Tensor out = allocate_view(batch, output_channels(p, src.channels), p.out_size, ds.device(), f);
  render(op, src, ds.device(), idx, {{p, view, out}}, seed, epoch, Tensor(), false);
  return out;
}

TwoViewBatch make_views_streamed(const Tensor& images, const Tensor& labels, const std::vector<int64_t>& indices,
                                 const AugmentPipeline& p1, const AugmentPipeline& p2, uint64_t seed, uint32_t epoch,
                                 Device device, const DeviceViewFormat& f) {
  const char* op = "make_views_streamed";
  const int64_t batch = static_cast<int64_t>(indices.size());
  SLIMSSL_CHECK(images.defined() && images.dtype() == DType::U8 && images.dim() == 4 && images.is_contiguous() &&
                    images.device().is_cpu() && images.size(0) == batch,
                op, ": images must be a contiguous uint8 [", batch, ", H, W, C] tensor on the CPU (one per index)");
  SLIMSSL_CHECK(!labels.defined() || (labels.dtype() == DType::I64 && labels.shape() == Shape{batch} &&
                                      labels.is_contiguous() && labels.device().is_cpu()),
                op, ": labels must be an int64 [", batch, "] tensor on the CPU, or none");
  check_host_indices(indices, int64_t{1} << 32, op);
  // One pinned slot for the batch's images, labels and indices (ssl/data/batch_staging.h).
  const Tensor staged = Tensor::empty(images.shape(), DType::U8, device);
  const Tensor staged_labels = labels.defined() ? Tensor::empty({batch}, DType::I64, device) : Tensor();
  const Tensor idx = Tensor::empty({batch}, DType::I64, device);
  stage_to_device(device, {{images.raw(), staged.raw(), static_cast<size_t>(images.numel())},
                           {indices.data(), idx.raw(), static_cast<size_t>(batch) * 8},
                           {labels.defined() ? labels.raw() : nullptr, labels.defined() ? staged_labels.raw() : nullptr,
                            labels.defined() ? static_cast<size_t>(batch) * 8 : 0}});
  kernels::AugmentSource src;
  src.images = staged.data<uint8_t>();
  src.count = batch;
  src.height = static_cast<int32_t>(images.size(1));
  src.width = static_cast<int32_t>(images.size(2));
  src.channels = static_cast<int32_t>(images.size(3));
  src.by_position = true;
  src.labels = labels.defined() ? staged_labels.data<int64_t>() : nullptr;
  // The staged tensors may be freed when this returns: the caching allocator reuses their blocks
  // only for work queued after the kernels that read them (one stream per device).
  return two_views(op, src, device, idx, p1, p2, seed, epoch, f, false);
}

std::vector<ViewParams> device_view_params(const DeviceDataset& ds, const std::vector<int64_t>& indices,
                                           const AugmentPipeline& p, uint64_t seed, uint32_t epoch, uint32_t view) {
  const char* op = "device_view_params";
  const kernels::AugmentSource src = source_of(ds, op);
  check_host_indices(indices, ds.size(), op);
  const int64_t batch = static_cast<int64_t>(indices.size());
  const Tensor idx = indices_to_device(indices.data(), batch, ds.device());
  std::vector<ViewParams> params;
  render(op, src, ds.device(), idx, {{p, view, Tensor()}}, seed, epoch, Tensor(), false, &params);
  return params;
}

#else  // built without CUDA

namespace {
[[noreturn]] void no_cuda(const char* op) { fail(op, ": slimssl was built without CUDA"); }
}  // namespace

DeviceDataset upload_dataset(const Dataset&, Device) { no_cuda("upload_dataset"); }
TwoViewBatch make_views_device(const DeviceDataset&, const std::vector<int64_t>&, const AugmentPipeline&,
                               const AugmentPipeline&, uint64_t, uint32_t, const DeviceViewFormat&) {
  no_cuda("make_views_device");
}
TwoViewBatch make_views_device(const DeviceDataset&, const Tensor&, const AugmentPipeline&, const AugmentPipeline&,
                               uint64_t, uint32_t, const DeviceViewFormat&, bool) {
  no_cuda("make_views_device");
}
void render_views_device(const DeviceDataset&, const Tensor&, const AugmentPipeline&, const AugmentPipeline&, uint64_t,
                         uint32_t, const Tensor&, const Tensor&, const Tensor&, bool) {
  no_cuda("render_views_device");
}
Tensor augment_batch_device(const DeviceDataset&, const std::vector<int64_t>&, const AugmentPipeline&, uint64_t,
                            uint32_t, uint32_t, const DeviceViewFormat&) {
  no_cuda("augment_batch_device");
}
TwoViewBatch make_views_streamed(const Tensor&, const Tensor&, const std::vector<int64_t>&, const AugmentPipeline&,
                                 const AugmentPipeline&, uint64_t, uint32_t, Device, const DeviceViewFormat&) {
  no_cuda("make_views_streamed");
}
std::vector<ViewParams> device_view_params(const DeviceDataset&, const std::vector<int64_t>&, const AugmentPipeline&,
                                           uint64_t, uint32_t, uint32_t) {
  no_cuda("device_view_params");
}

#endif

}  // namespace slimssl::data
