#include "engine/device_graph.h"
#include "engine/error.h"
#include "engine/graph_pool.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace slimssl {

#ifdef SLIMSSL_WITH_CUDA

struct DeviceGraph::Impl {
  cuda::CudaContext* ctx = nullptr;
  std::shared_ptr<GraphPool> pool;
  cudaGraphExec_t exec = nullptr;
};

bool DeviceGraph::supported(Device device) { return device.is_cuda() && cuda_available(); }

DeviceGraph::DeviceGraph(Device device, const std::function<void()>& work) : impl_(std::make_unique<Impl>()) {
  SLIMSSL_CHECK(supported(device), "CUDA graph capture: not available on ", device.str());
  impl_->ctx = &cuda::cuda_backend(device.index).context();
  impl_->pool = std::make_shared<GraphPool>(device);
  cuda::CudaContext& ctx = *impl_->ctx;
  GraphPool::set_capturing(impl_->pool);
  ctx.begin_capture();
  cudaGraph_t graph = nullptr;
  try {
    work();
    GraphPool::set_capturing(nullptr);
    graph = ctx.end_capture();
  } catch (...) {
    GraphPool::set_capturing(nullptr);
    if (ctx.capturing()) {
      try {
        if (cudaGraph_t abandoned = ctx.end_capture()) cudaGraphDestroy(abandoned);
      } catch (const std::exception&) {
        // The capture is abandoned either way; the first error is the one to report.
      }
    }
    impl_->pool->release();  // its blocks were never used on the device
    throw;
  }
  const cudaError_t e = cudaGraphInstantiate(&impl_->exec, graph, 0);
  cudaGraphDestroy(graph);
  cuda::check(e, "cudaGraphInstantiate");
  ctx.graph_created();
}

DeviceGraph::~DeviceGraph() {
  if (!impl_->exec) return;
  cudaGraphExecDestroy(impl_->exec);
  impl_->ctx->graph_destroyed();
  // Replays queued earlier still use the pool's blocks: they go back to the caching allocator,
  // whose reuse is in stream order (kernels/memory.h).
  impl_->pool->release();
}

void DeviceGraph::replay() { cuda::check(cudaGraphLaunch(impl_->exec, impl_->ctx->stream()), "cudaGraphLaunch"); }

size_t DeviceGraph::held_bytes() const { return impl_->pool->held_bytes(); }

#else

struct DeviceGraph::Impl {};
bool DeviceGraph::supported(Device) { return false; }
DeviceGraph::DeviceGraph(Device device, const std::function<void()>&) {
  fail("CUDA graph capture: not available on ", device.str(), " (slimssl was built without CUDA)");
}
DeviceGraph::~DeviceGraph() = default;
void DeviceGraph::replay() {}
size_t DeviceGraph::held_bytes() const { return 0; }

#endif

}  // namespace slimssl
