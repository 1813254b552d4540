#include "tools/bench_measure.h"
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include "engine/backend.h"
#include "engine/error.h"
#ifdef SLIMSSL_WITH_CUDA
#include "kernels/device_info.h"
#include "kernels/memory.h"
#endif

namespace slimssl::tools {

double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double bf16_dense_peak(const std::string& name) {
  // Published dense (no sparsity) bfloat16 tensor-core figures, FLOP/s; the first match wins.
  static const std::vector<std::pair<std::string, double>> table = {
      {"H200 NVL", 835e12}, {"H100 NVL", 835e12}, {"H100 PCIe", 756e12}, {"H200", 989.4e12}, {"H100", 989.4e12},
      {"B200", 2250e12},    {"A100", 312e12},     {"L40S", 362e12},      {"A10G", 70e12},    {"A10", 125e12},
  };
  for (auto& [pattern, flops] : table)
    if (name.find(pattern) != std::string::npos) return flops;
  if (name.size() >= 3 && name.ends_with(" L4")) return 121e12;
  return 0;
}

BenchResult measure(const BenchSpec& spec, const std::function<void(int64_t)>& step) {
  SLIMSSL_CHECK(spec.steps > 0, "--steps must be positive, got ", spec.steps);
  SLIMSSL_CHECK(spec.warmup >= 0, "--warmup must be >= 0, got ", spec.warmup);
  Backend& backend = backend_for(spec.device);
  int64_t i = 0;
  for (; i < spec.warmup; ++i) step(i);
  backend.synchronize();

  BenchResult r;
  r.threads = omp_get_max_threads();
#ifdef SLIMSSL_WITH_CUDA
  if (spec.device.is_cuda()) {
    kernels::reset_peak(spec.device.index);
    r.device_name = kernels::device_info(spec.device.index).name;
    r.device_peak_flops = bf16_dense_peak(r.device_name);
  }
#endif
  using clock = std::chrono::steady_clock;
  const double cpu0 = process_cpu_seconds();
  const auto wall0 = clock::now();
  for (int64_t s = 0; s < spec.steps; ++s, ++i) {
    auto t0 = clock::now();
    step(i);
    backend.synchronize();
    r.step_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - t0).count());
  }
  r.wall_seconds = std::chrono::duration<double>(clock::now() - wall0).count();
  r.cpu_seconds = process_cpu_seconds() - cpu0;
#ifdef SLIMSSL_WITH_CUDA
  if (spec.device.is_cuda()) r.peak_device_bytes = static_cast<int64_t>(kernels::memory_stats(spec.device.index).peak_bytes);
#endif

  std::vector<double> sorted = r.step_ms;
  std::sort(sorted.begin(), sorted.end());
  const size_t n = sorted.size();
  r.ms_median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  r.ms_min = sorted.front(), r.ms_max = sorted.back();
  const double images = static_cast<double>(spec.images_per_step * spec.steps);
  r.images_per_s = images / std::max(1e-12, r.wall_seconds);
  r.images_per_cpu_s = images / std::max(1e-12, r.cpu_seconds);
  r.flops_per_step = spec.flops_per_step;
  r.achieved_flops = spec.flops_per_step / std::max(1e-12, r.ms_median * 1e-3);

  if (spec.profile) {
    profile::start();
    for (int64_t s = 0; s < spec.steps; ++s, ++i) step(i);
    backend_for(spec.device).synchronize();
    r.profile = profile::stop();
  }
  return r;
}

void print_figures(const BenchResult& r, const BenchSpec& spec) {
  const double spread = r.ms_median > 0 ? 100.0 * (r.ms_max - r.ms_min) / r.ms_median : 0;
  std::printf("  ms per step      median %.1f (min %.1f, max %.1f: spread %.1f%% of the median) over %lld steps\n",
              r.ms_median, r.ms_min, r.ms_max, spread, static_cast<long long>(spec.steps));
  std::printf("  images/s         %.1f\n", r.images_per_s);
  std::printf("  images/CPU-s     %.1f (process CPU time %.2f s for %.2f s of wall time: %.2f cores busy)\n",
              r.images_per_cpu_s, r.cpu_seconds, r.wall_seconds, r.cpu_seconds / std::max(1e-12, r.wall_seconds));
  std::printf("  threads          %d\n", r.threads);
  if (r.flops_per_step > 0)
    std::printf("  model FLOPs      %.2f G per step; %.1f GFLOP/s at the median step\n", r.flops_per_step / 1e9,
                r.achieved_flops / 1e9);
  if (r.peak_device_bytes >= 0)
    std::printf("  peak memory      %.1f MiB on %s\n", static_cast<double>(r.peak_device_bytes) / (1 << 20),
                r.device_name.c_str());
  if (spec.device.is_cuda()) {
    if (r.device_peak_flops > 0 && r.flops_per_step > 0)
      std::printf("  MFU              %.1f%% of %.0f TFLOP/s (bf16 dense peak of %s)\n",
                  100.0 * r.achieved_flops / r.device_peak_flops, r.device_peak_flops / 1e12, r.device_name.c_str());
    else
      std::printf("  MFU              unknown (no bf16 peak for '%s' in slimssl's table)\n", r.device_name.c_str());
  }
  if (r.profile) {
    std::printf("\n%s", profile::format(*r.profile, 20, spec.steps).c_str());
    if (spec.device.is_cuda())
      std::printf("  (profiling synchronizes around every primitive: its times are not the step's speed)\n");
  }
}

nlohmann::json figures_json(const BenchResult& r, const BenchSpec& spec) {
  nlohmann::json j = {
      {"device", spec.device.str()},
      {"threads", r.threads},
      {"warmup", spec.warmup},
      {"steps", spec.steps},
      {"images_per_step", spec.images_per_step},
      {"step_ms", r.step_ms},
      {"ms_per_step_median", r.ms_median},
      {"ms_per_step_min", r.ms_min},
      {"ms_per_step_max", r.ms_max},
      {"wall_seconds", r.wall_seconds},
      {"cpu_seconds", r.cpu_seconds},
      {"images_per_s", r.images_per_s},
      {"images_per_cpu_s", r.images_per_cpu_s},
      {"flops_per_step", r.flops_per_step},
      {"achieved_flops", r.achieved_flops},
  };
  if (spec.device.is_cuda()) {
    j["device_name"] = r.device_name;
    j["peak_device_bytes"] = r.peak_device_bytes;
    j["device_bf16_peak_flops"] = r.device_peak_flops;
    j["mfu"] = r.device_peak_flops > 0 ? nlohmann::json(r.achieved_flops / r.device_peak_flops) : nlohmann::json();
  }
  if (r.profile) {
    const auto& p = *r.profile;
    nlohmann::json entries = nlohmann::json::array();
    for (auto& e : p.entries) entries.push_back({{"name", e.name}, {"calls", e.calls}, {"seconds", e.seconds}});
    j["profile"] = {{"steps", spec.steps},
                    {"wall_seconds", p.wall_seconds},
                    {"primitive_seconds", p.primitive_seconds},
                    {"autograd_seconds", p.autograd_seconds()},
                    {"other_seconds", p.other_seconds()},
                    {"backward_passes", p.backward_passes},
                    {"allocations", p.allocations},
                    {"allocated_bytes", p.allocated_bytes},
                    {"primitives", entries}};
  }
  return j;
}

}  // namespace slimssl::tools
