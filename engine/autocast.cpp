#include "engine/autocast.h"

namespace slimssl {
namespace {
thread_local bool g_autocast = false;
}

AutocastGuard::AutocastGuard(bool enabled) : previous_(g_autocast) { g_autocast = enabled; }
AutocastGuard::~AutocastGuard() { g_autocast = previous_; }

bool autocast_enabled() { return g_autocast; }

DType autocast_dtype(const Tensor& x) {
  const bool castable = x.dtype() == DType::F32 || x.dtype() == DType::BF16;
  return g_autocast && castable && x.device().is_cuda() ? DType::BF16 : x.dtype();
}

}  // namespace slimssl
