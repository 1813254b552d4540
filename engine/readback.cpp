#include "engine/readback.h"
#include "engine/ops.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#include "kernels/memory.h"
#endif

namespace slimssl {

#ifdef SLIMSSL_WITH_CUDA
struct ScalarReadback::Device {
  int index = -1;
  double* pinned = nullptr;  // capacity doubles
  size_t capacity = 0;
  cudaEvent_t done = nullptr;
  Tensor staged;  // keeps the device copy alive until it has been read
  ~Device() {
    if (pinned) kernels::host_pinned_free(pinned);
    if (done) cudaEventDestroy(done);
  }
};
#else
struct ScalarReadback::Device {};
#endif

ScalarReadback::ScalarReadback() = default;
ScalarReadback::~ScalarReadback() = default;

void ScalarReadback::request(const std::vector<Tensor>& scalars) {
  count_ = scalars.size();
  pending_ = true;
  on_device_ = !scalars.empty() && !scalars[0].device().is_cpu();
  host_.clear();
  if (!on_device_) {
    for (const Tensor& s : scalars) host_.push_back(s.item());
    return;
  }
#ifdef SLIMSSL_WITH_CUDA
  // One float64 vector of the scalars on the device, then one asynchronous copy.
  std::vector<Tensor> flat;
  for (const Tensor& s : scalars) flat.push_back(s.detach().reshape({1}).to(DType::F64));
  Tensor staged = concat(flat, 0);
  const int index = staged.device().index;
  if (!dev_) dev_ = std::make_unique<Device>();
  if (dev_->index != index || dev_->capacity < count_) {
    dev_ = std::make_unique<Device>();
    dev_->index = index;
    dev_->capacity = std::max<size_t>(count_, 16);
    dev_->pinned = static_cast<double*>(kernels::host_pinned_alloc(dev_->capacity * sizeof(double)));
    cuda::check(cudaEventCreateWithFlags(&dev_->done, cudaEventDisableTiming), "cudaEventCreate");
  }
  cuda::CudaContext& ctx = cuda::cuda_backend(index).context();
  kernels::copy_bytes_async(dev_->pinned, false, staged.raw(), true, count_ * sizeof(double), ctx.stream());
  cuda::check(cudaEventRecord(dev_->done, ctx.stream()), "cudaEventRecord");
  dev_->staged = staged;
#else
  fail("ScalarReadback: tensors on ", scalars[0].device().str(), " in a build without CUDA");
#endif
}

std::vector<double> ScalarReadback::wait() {
  SLIMSSL_CHECK(pending_, "ScalarReadback::wait: nothing was requested");
  pending_ = false;
  if (!on_device_) return host_;
#ifdef SLIMSSL_WITH_CUDA
  cuda::check(cudaEventSynchronize(dev_->done), "cudaEventSynchronize");
  dev_->staged = Tensor();
  return std::vector<double>(dev_->pinned, dev_->pinned + count_);
#else
  return host_;
#endif
}

}  // namespace slimssl
