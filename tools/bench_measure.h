// The measurement behind `slimssl bench`: a unit of work (one training step) repeated after a
// warm-up, each repetition timed in wall and process CPU time with the device synchronized at
// both ends; optionally more repetitions under the op profiler (never the timed ones); and the
// figures derived from it: images/s, images per CPU-second, ms per step, peak device memory and
// model FLOP utilisation against the device's bfloat16 dense peak.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>
#include "engine/device.h"
#include "engine/profile.h"

namespace slimssl::tools {

struct BenchSpec {
  Device device;
  int64_t warmup = 2;
  int64_t steps = 10;
  bool profile = false;       // `steps` more steps under the profiler, after the timed ones
  int64_t images_per_step = 0;
  double flops_per_step = 0;  // 0: not counted
};

struct BenchResult {
  std::vector<double> step_ms;  // wall time of each timed step
  double wall_seconds = 0, cpu_seconds = 0;  // of all timed steps; CPU time of the whole process
  double ms_median = 0, ms_min = 0, ms_max = 0;
  double images_per_s = 0, images_per_cpu_s = 0;
  int threads = 0;  // OpenMP threads
  double flops_per_step = 0, achieved_flops = 0;
  // CUDA only (unknown elsewhere): peak device memory over the timed steps, the device's name and
  // its bfloat16 dense peak (0 when the device is not in slimssl's table).
  int64_t peak_device_bytes = -1;
  std::string device_name;
  double device_peak_flops = 0;
  std::optional<profile::Report> profile;
};

// Process CPU time (every thread), in seconds.
double process_cpu_seconds();

// Runs `step` spec.warmup + spec.steps (+ spec.steps profiled) times; `step(i)` gets the number
// of the repetition, counted from 0 over all of them.
BenchResult measure(const BenchSpec& spec, const std::function<void(int64_t)>& step);

// The bfloat16 dense tensor peak (FLOP/s) of a GPU by its name, 0 when unknown.
double bf16_dense_peak(const std::string& device_name);

// The figures as indented text lines, and as JSON fields.
void print_figures(const BenchResult& r, const BenchSpec& spec);
nlohmann::json figures_json(const BenchResult& r, const BenchSpec& spec);

}  // namespace slimssl::tools
