#include "engine/backend.h"
#include "engine/cpu/cpu_backend.h"
#include "engine/profile.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace slimssl {

namespace {
Backend& device_backend(Device d) {
  if (d.is_cpu()) {
    static cpu::CpuBackend cpu_backend;
    return cpu_backend;
  }
#ifdef SLIMSSL_WITH_CUDA
  return cuda::cuda_backend(d.index);
#else
  fail("no backend for ", d.str(), ": slimssl was built without CUDA");
#endif
}
}  // namespace

Backend& backend_for(Device d) {
  Backend& b = device_backend(d);
  // While the profiler is on, every primitive goes through its timing decorator (engine/profile.h).
  return profile::enabled() ? profile::wrap(b, d) : b;
}

}  // namespace slimssl
