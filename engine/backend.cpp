#include "engine/backend.h"
#include "engine/cpu/cpu_backend.h"
#ifdef SLIMSSL_WITH_CUDA
#include "engine/cuda/cuda_backend.h"
#endif

namespace slimssl {

Backend& backend_for(Device d) {
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

}  // namespace slimssl
