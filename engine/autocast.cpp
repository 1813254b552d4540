#include "engine/autocast.h"

namespace slimssl {
namespace {
thread_local bool g_autocast = false;
thread_local bool g_autocast_cpu = false;
}  // namespace

AutocastGuard::AutocastGuard(bool enabled) : previous_(g_autocast), previous_cpu_(g_autocast_cpu) {
  g_autocast = enabled;
}
AutocastGuard::AutocastGuard(bool enabled, bool include_cpu) : AutocastGuard(enabled) {
  g_autocast_cpu = include_cpu;
}
AutocastGuard::~AutocastGuard() { g_autocast = previous_, g_autocast_cpu = previous_cpu_; }

bool autocast_enabled() { return g_autocast; }

DType autocast_dtype(const Tensor& x) {
  const bool castable = x.dtype() == DType::F32 || x.dtype() == DType::BF16;
  const bool here = x.device().is_cuda() || g_autocast_cpu;
  return g_autocast && castable && here ? DType::BF16 : x.dtype();
}

}  // namespace slimssl
