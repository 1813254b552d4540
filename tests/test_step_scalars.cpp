// The per-step values of a training step in device memory (engine/step_scalars.h) and their
// readers: the buffer itself, write_block (the queue's write at a device-held position) and the
// fused optimizer reading its learning rate and bias corrections from the device. Each reader is
// held to the path that takes the value from the host, exactly.
#include <catch2/catch.hpp>
#include <cmath>
#include "engine/ops.h"
#include "engine/step_scalars.h"
#include "gpu_gate.h"
#include "ssl/train/optimizer.h"

using namespace slimssl;

TEST_CASE("step scalars: reserved slots hold what the host set once uploaded", "[step_scalars]") {
  StepScalars s(Device::cpu());
  const size_t step_at = s.reserve(8), m_at = s.reserve(4, 4), lr_at = s.reserve(8);
  REQUIRE(step_at % 8 == 0);
  REQUIRE(m_at % 4 == 0);
  REQUIRE(lr_at % 8 == 0);
  Tensor step = s.scalar(step_at, DType::I64), m = s.scalar(m_at, DType::F32), lr = s.scalar(lr_at, DType::F64);
  s.set(step_at, int64_t{(int64_t{3} << 32) + 5});
  s.set(m_at, 0.99f);
  s.set(lr_at, 0.125);
  // Nothing reaches the buffer before the upload.
  REQUIRE(step.item() == 0.0);
  s.upload();
  REQUIRE(static_cast<int64_t>(step.item()) == (int64_t{3} << 32) + 5);
  REQUIRE(m.item() == Approx(0.99f).epsilon(0));
  REQUIRE(lr.item() == 0.125);
  // Slots outside what was reserved, or past the capacity, are errors.
  REQUIRE_THROWS_WITH(s.set(lr_at + 8, 1.0), Catch::Contains("were not reserved"));
  REQUIRE_THROWS_WITH(s.reserve(StepScalars::kCapacity), Catch::Contains("do not fit"));
}

namespace {
// write_block against narrow + copy, on `device`, for a block given on that device.
void check_write_block(Device device) {
  Tensor dst = Tensor::arange(24).reshape({3, 4, 2}).to(device);
  Tensor want = Tensor::arange(24).reshape({3, 4, 2});
  Tensor src = mul(Tensor::arange(8), -0.5).add_(Tensor::full({8}, 0.1)).reshape({4, 2});
  for (int64_t b : {1, 0, 2}) {
    write_block(dst, Tensor::scalar(static_cast<double>(b), DType::I64).to(device), src.to(device));
    want.select(0, b).copy_(src);
    REQUIRE(dst.cpu().to_vector<float>() == want.to_vector<float>());
  }
}
}  // namespace

TEST_CASE("write_block writes a block at a position held in a tensor", "[step_scalars]") {
  check_write_block(Device::cpu());
}

TEST_CASE("write_block on the device matches the CPU exactly", "[cuda][step_scalars]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  check_write_block(Device::cuda(0));
}

namespace {
using namespace slimssl::train;

// Three steps with changing learning rates of an optimizer over two parameters on the device,
// gradients from a loss that changes per step. With `scalars`, the learning rate and step count
// go through the device buffer and step() is handed a wrong learning rate, which must not matter.
std::vector<std::vector<float>> three_steps(OptimizerConfig cfg, bool scalars) {
  const Device dev = Device::cuda(0);
  Tensor a = Tensor::arange(10).to(dev), b = mul(Tensor::arange(7), 0.3).to(dev);
  a.set_requires_grad(true), b.set_requires_grad(true);
  a.set_name("a"), b.set_name("b");
  Optimizer opt({ParamGroup{{a}, true, true, {"a"}}, ParamGroup{{b}, false, false, {"b"}}}, cfg);
  StepScalars s(dev);
  if (scalars) opt.use_step_scalars(&s);
  for (int k = 0; k < 3; ++k) {
    const double lr = 0.1 / (k + 1);
    if (scalars) opt.prepare_step(lr), s.upload();
    opt.zero_grad();
    add(sum(mul(mul(a, a), 0.5 + k)), sum(mul(b, static_cast<double>(k) - 1.0))).backward();
    opt.step(scalars ? 999.0 : lr);
  }
  return {a.detach().cpu().to_vector<float>(), b.detach().cpu().to_vector<float>()};
}
}  // namespace

TEST_CASE("the fused optimizer reading its per-step values on the device steps exactly as from the host",
          "[cuda][step_scalars]") {
  if (!slimssl::testing::gpu_or_skip()) return;
  OptimizerConfig sgd;
  sgd.nesterov = true, sgd.weight_decay = 0.01;
  OptimizerConfig adamw;
  adamw.kind = OptimizerKind::AdamW, adamw.weight_decay = 0.05;
  OptimizerConfig lars;
  lars.kind = OptimizerKind::LARS, lars.grad_clip = 1.0;
  for (const OptimizerConfig& cfg : {sgd, adamw, lars}) {
    INFO(optimizer_name(cfg.kind));
    const auto host = three_steps(cfg, false), device = three_steps(cfg, true);
    REQUIRE(device == host);
    REQUIRE(std::isfinite(host[0][3]));
  }
}
