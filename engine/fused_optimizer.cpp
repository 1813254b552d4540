#include "engine/fused_optimizer.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#include "kernels/optimizer_step.h"
#endif

namespace slimssl {

bool fused_optimizer_available(Device d) {
#ifdef SLIMSSL_WITH_CUDA
  return d.is_cuda();
#else
  return false;
#endif
}

#ifdef SLIMSSL_WITH_CUDA

struct FusedOptimizer::Impl {
  std::vector<FusedSlot> slots;  // keeps every tensor (and so every address) alive
  Tensor table;                  // the kernels' slot and chunk tables (device bytes)
  Tensor norm_scale;             // float32 [2]: {norm, clip scale}
  kernels::OptimizerTable t;
  Device device;
};

namespace {
float* floats(const Tensor& t) { return t.defined() ? t.data<float>() : nullptr; }

void check_slot(const FusedSlot& s, size_t i) {
  auto fits = [&](const Tensor& t) {
    return !t.defined() || (t.dtype() == DType::F32 && t.is_contiguous() && t.shape() == s.param.shape() &&
                            t.device() == s.param.device());
  };
  SLIMSSL_CHECK(s.param.defined() && s.grad.defined() && s.param.dtype() == DType::F32 && s.param.is_contiguous() &&
                    s.param.device().is_cuda() && fits(s.grad) && fits(s.buf1) && fits(s.buf2),
                "fused optimizer: slot ", i, " ('", s.param.defined() ? s.param.name() : "",
                "') needs contiguous float32 CUDA parameter, gradient and state of one shape");
}
}  // namespace

FusedOptimizer::FusedOptimizer(const std::vector<FusedSlot>& slots) : impl_(std::make_unique<Impl>()) {
  SLIMSSL_CHECK(!slots.empty(), "fused optimizer: no parameters");
  impl_->slots = slots;
  impl_->device = slots[0].param.device();
  std::vector<kernels::OptSlot> k;
  for (size_t i = 0; i < slots.size(); ++i) {
    const FusedSlot& s = slots[i];
    check_slot(s, i);
    SLIMSSL_CHECK(s.param.device() == impl_->device, "fused optimizer: parameters on two devices");
    kernels::OptSlot o;
    o.param = floats(s.param), o.grad = floats(s.grad), o.buf1 = floats(s.buf1), o.buf2 = floats(s.buf2);
    o.numel = s.param.numel(), o.weight_decay = static_cast<float>(s.weight_decay), o.lars_adapt = s.lars_adapt;
    k.push_back(o);
  }
  const int n = static_cast<int>(k.size());
  impl_->table = Tensor::empty({static_cast<int64_t>(kernels::optimizer_table_bytes(k.data(), n))}, DType::U8,
                               impl_->device);
  impl_->norm_scale = Tensor::zeros({2}, DType::F32, impl_->device);
  // The upload is synchronous: make sure no queued work still uses the fresh block.
  cuda::cuda_backend(impl_->device.index).context().synchronize();
  impl_->t = kernels::optimizer_table_build(k.data(), n, impl_->table.raw());
}

FusedOptimizer::~FusedOptimizer() = default;

namespace {
// The clip scale on the device, or null when not clipping.
const float* clip_scale(const kernels::OptimizerTable& t, const Tensor& norm_scale, double grad_clip,
                        cudaStream_t stream) {
  if (grad_clip <= 0) return nullptr;
  kernels::optimizer_grad_norm(t, static_cast<float>(grad_clip), norm_scale.data<float>(), stream);
  return norm_scale.data<float>() + 1;
}

kernels::SgdStep kernel_args(const FusedSgd& s) {
  kernels::SgdStep k;
  k.lr = s.lr, k.momentum = s.momentum, k.nesterov = s.nesterov, k.first_step = s.first_step;
  k.lars = s.lars, k.lars_eta = s.lars_eta;
  return k;
}
kernels::AdamWStep kernel_args(const FusedAdamW& s) {
  kernels::AdamWStep k;
  k.lr = s.lr, k.beta1 = s.beta1, k.beta2 = s.beta2, k.eps = s.eps, k.step = s.step, k.first_step = s.first_step;
  return k;
}
const kernels::OptimizerStepValues* step_values_at(const void* p) {
  return static_cast<const kernels::OptimizerStepValues*>(p);
}
}  // namespace

void FusedOptimizer::sgd(const FusedSgd& s, double grad_clip, const void* per_step) {
  cudaStream_t stream = cuda::cuda_backend(impl_->device.index).context().stream();
  kernels::optimizer_sgd_step(impl_->t, kernel_args(s), clip_scale(impl_->t, impl_->norm_scale, grad_clip, stream),
                              stream, step_values_at(per_step));
}

void FusedOptimizer::adamw(const FusedAdamW& s, double grad_clip, const void* per_step) {
  cudaStream_t stream = cuda::cuda_backend(impl_->device.index).context().stream();
  kernels::optimizer_adamw_step(impl_->t, kernel_args(s), clip_scale(impl_->t, impl_->norm_scale, grad_clip, stream),
                                stream, step_values_at(per_step));
}

size_t FusedOptimizer::reserve_step_values(StepScalars& scalars) {
  return scalars.reserve(sizeof(kernels::OptimizerStepValues), 8);
}
void FusedOptimizer::write_step_values(StepScalars& scalars, size_t offset, const FusedSgd& s) {
  scalars.set(offset, kernels::optimizer_step_values(kernel_args(s)));
}
void FusedOptimizer::write_step_values(StepScalars& scalars, size_t offset, const FusedAdamW& s) {
  scalars.set(offset, kernels::optimizer_step_values(kernel_args(s)));
}

Tensor FusedOptimizer::last_grad_norm() const { return impl_->norm_scale.narrow(0, 0, 1).reshape({}); }

#else

struct FusedOptimizer::Impl {};
FusedOptimizer::FusedOptimizer(const std::vector<FusedSlot>&) {
  fail("fused optimizer: slimssl was built without CUDA");
}
FusedOptimizer::~FusedOptimizer() = default;
void FusedOptimizer::sgd(const FusedSgd&, double, const void*) {}
void FusedOptimizer::adamw(const FusedAdamW&, double, const void*) {}
size_t FusedOptimizer::reserve_step_values(StepScalars&) { fail("fused optimizer: slimssl was built without CUDA"); }
void FusedOptimizer::write_step_values(StepScalars&, size_t, const FusedSgd&) {}
void FusedOptimizer::write_step_values(StepScalars&, size_t, const FusedAdamW&) {}
Tensor FusedOptimizer::last_grad_norm() const { return {}; }

#endif

}  // namespace slimssl
