// engine/device_graph.h on its own, on a GPU or the emulated device: what a replay repeats and
// what it does not. The training step's capture (tests/test_train_graph.cpp) builds on both.
#include <catch2/catch.hpp>
#include "engine/device_graph.h"
#include "engine/ops.h"
#include "gpu_gate.h"

using namespace slimssl;

TEST_CASE("device graph: a replay repeats the device work, and host work ran only once, while capturing", "[cuda][graph]") {
  if (!testing::gpu_or_skip()) return;
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::zeros({5}).to(gpu), one = Tensor::ones({5}).to(gpu);
  Tensor host_count = Tensor::zeros({}, DType::I64);
  DeviceGraph graph(gpu, [&] {
    x.add_(one);                                                               // recorded
    host_count.fill_(static_cast<double>(host_count.item<int64_t>() + 1));  // runs now
  });
  CHECK(x.cpu().to_vector<double>() == std::vector<double>(5, 0.0));  // capturing ran nothing
  CHECK(host_count.item<int64_t>() == 1);
  for (int r = 0; r < 3; ++r) graph.replay();
  CHECK(x.cpu().to_vector<double>() == std::vector<double>(5, 3.0));
  CHECK(host_count.item<int64_t>() == 1);  // what the caller must account for (TrainStep does)
}

TEST_CASE("device graph: a read-back inside the capture fails it, naming why, and the device still works",
          "[cuda][graph]") {
  if (!testing::gpu_or_skip()) return;
  const Device gpu = Device::cuda(0);
  Tensor x = Tensor::ones({3}).to(gpu);
  CHECK_THROWS_WITH(DeviceGraph(gpu, [&] { (void)sum(x).item(); }), Catch::Contains("captur"));
  CHECK(sum(x).item() == 3.0);
}

TEST_CASE("device graph: refused on the CPU", "[graph]") {
  CHECK_FALSE(DeviceGraph::supported(Device::cpu()));
  CHECK_THROWS_WITH(DeviceGraph(Device::cpu(), [] {}), Catch::Contains("not available on cpu"));
}
