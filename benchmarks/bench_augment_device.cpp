// Two views per image on the device (ssl/data/device_views.h) beside the CPU reference (make_views
// on every core), in the same run, on CIFAR-sized images (50,000 x 32 x 32 x 3 synthetic pixels:
// the speed does not depend on their values). views/s counts both views.
//
//   bench_augment_device [OUT.json] [--quick]
//
// Device: batches of device indices (a fixed random permutation) rendered into preallocated
// outputs, float32 NCHW and bfloat16 channels-last, without index read-back (as a training step
// calls it); CUDA events on the device's stream around `iters` batches, after an L2 flush; one
// warm-up, median of the repeats. CPU: make_views on all hardware threads, median of the repeats.
// First a validation: each preset's device views against the CPU's within 1/255 before
// normalization (the tests' bound); a failure exits 1.
//
// Built with -DSLIMSSL_CUDA=EMULATE it runs at toy size and labels the device columns as the
// emulation's speed: those are not GPU figures. Without a CUDA device it prints "no CUDA device"
// and exits 2 (the GPU check's dry run expects that). docs/data.md, "The device path".
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/data/device_views.h"
#ifdef SLIMSSL_WITH_CUDA
#include <cuda_runtime_api.h>
#include "engine/cuda/cuda_backend.h"
#endif

using namespace slimssl;
using namespace slimssl::data;

#ifndef SLIMSSL_WITH_CUDA
int main() {
  std::printf("bench_augment_device: no CUDA device (built without CUDA)\n");
  return 2;
}
#else

namespace {

#ifdef SLIMSSL_CUDA_EMULATED
constexpr bool kEmulated = true;
#else
constexpr bool kEmulated = false;
#endif

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "bench_augment_device: %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

struct Sizes {
  int64_t images;  // in the data set
  int64_t batch;   // images per batch (2 views each)
  int iters;       // batches per timed repeat (device)
  int cpu_batches; // batches per timed repeat (CPU)
  int reps;
  size_t flush_bytes;
};

Dataset noise_set(int64_t n) {
  Dataset ds;
  ds.name = "cifar10";  // its normalization constants
  ds.images = Tensor::empty({n, 32, 32, 3}, DType::U8);
  std::mt19937 gen(7);
  uint8_t* p = ds.images.data<uint8_t>();
  for (int64_t i = 0; i < ds.images.numel(); ++i) p[i] = static_cast<uint8_t>(gen() >> 24);
  ds.labels = Tensor::empty({n}, DType::I64);
  for (int64_t i = 0; i < n; ++i) ds.labels.data<int64_t>()[i] = i % 10;
  return ds;
}

std::vector<float> download_floats(cuda::CudaContext& ctx, const Tensor& t) {
  std::vector<float> v(t.numel());
  ctx.download(v.data(), t.raw(), v.size() * 4);
  return v;
}

// Largest |device - cpu| over the batch, in steps of 1/255 before normalization.
double worst_step(const Tensor& cpu, const std::vector<float>& dev, const AugmentPipeline& p) {
  const std::vector<float> ref = cpu.to_vector<float>();
  const int64_t C = cpu.size(1), plane = cpu.size(2) * cpu.size(3);
  double worst = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const double d = std::abs(double(dev[i]) - ref[i]) * 255.0 * p.std[(int64_t(i) / plane) % C];
    worst = std::max(worst, std::isnan(d) ? 1e30 : d);
  }
  return worst;
}

struct Row {
  std::string preset;
  double cpu, f32, bf16;  // views/s
  double worst;           // validation, in steps
};

}  // namespace

int main(int argc, char** argv) {
  std::string json_path;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") quick = true;
    else if (a.rfind("--", 0) != 0 && json_path.empty()) json_path = a;
    else {
      std::fprintf(stderr, "usage: bench_augment_device [OUT.json] [--quick]\n");
      return 2;
    }
  }
  if (!cuda_available()) {
    std::printf("bench_augment_device: no CUDA device\n");
    return 2;
  }
  const Sizes z = kEmulated ? Sizes{256, 8, 2, 2, 3, size_t{1} << 20}
                            : (quick ? Sizes{50000, 1024, 10, 4, 7, size_t{256} << 20}
                                     : Sizes{50000, 1024, 20, 8, 15, size_t{256} << 20});
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("device: %s%s\n", prop.name,
              kEmulated ? " -- EMULATED: the device columns time the CPU emulation, they are not GPU figures" : "");
  std::printf("data: %lld synthetic 32x32x3 images; batch %lld (x2 views); device %d batches per repeat, "
              "CPU %d; %d repeats (median), CPU on %d threads\n",
              static_cast<long long>(z.images), static_cast<long long>(z.batch), z.iters, z.cpu_batches, z.reps,
              threads);

  const Dataset ds = noise_set(z.images);
  const Device gpu = Device::cuda(0);
  cuda::CudaContext& ctx = cuda::cuda_backend(0).context();
  const DeviceDataset dev = upload_dataset(ds, gpu);
  std::vector<int64_t> order(z.images);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937(3));
  Tensor dev_order = Tensor::empty({z.images}, DType::I64, gpu);
  ctx.upload(dev_order.raw(), order.data(), order.size() * 8);
  Tensor flush = Tensor::empty({static_cast<int64_t>(z.flush_bytes)}, DType::U8, gpu);
  const int64_t batches_in_set = z.images / z.batch;
  auto batch_indices = [&](int64_t b) { return dev_order.narrow(0, (b % batches_in_set) * z.batch, z.batch); };

  cudaEvent_t start, stop;
  check(cudaEventCreate(&start), "cudaEventCreate");
  check(cudaEventCreate(&stop), "cudaEventCreate");
  // Median views/s of `iters` device batches per repeat, each repeat after an L2 flush.
  auto time_device = [&](const ViewPipelines& v, const Tensor& o1, const Tensor& o2) {
    render_views_device(dev, batch_indices(0), v.first, v.second, 1, 0, o1, o2, Tensor(), false);  // warm-up
    std::vector<double> rates;
    for (int r = 0; r < z.reps; ++r) {
      check(cudaMemsetAsync(flush.raw(), r, z.flush_bytes, ctx.stream()), "cudaMemsetAsync");
      check(cudaEventRecord(start, ctx.stream()), "cudaEventRecord");
      for (int i = 0; i < z.iters; ++i)
        render_views_device(dev, batch_indices(r * z.iters + i), v.first, v.second, 1, static_cast<uint32_t>(r), o1,
                            o2, Tensor(), false);
      check(cudaEventRecord(stop, ctx.stream()), "cudaEventRecord");
      check(cudaEventSynchronize(stop), "cudaEventSynchronize");
      float ms = 0;
      check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
      rates.push_back(2.0 * z.batch * z.iters / (ms / 1e3));
    }
    return median(rates);
  };
  auto time_cpu = [&](const ViewPipelines& v) {
    std::vector<int64_t> idx(order.begin(), order.begin() + z.batch);
    make_views(ds, idx, v.first, v.second, 1, 0, threads);  // warm-up
    std::vector<double> rates;
    for (int r = 0; r < z.reps; ++r) {
      const double t0 = now();
      for (int i = 0; i < z.cpu_batches; ++i) {
        const int64_t at = ((r * z.cpu_batches + i) % batches_in_set) * z.batch;
        std::copy(order.begin() + at, order.begin() + at + z.batch, idx.begin());
        make_views(ds, idx, v.first, v.second, 1, static_cast<uint32_t>(r), threads);
      }
      rates.push_back(2.0 * z.batch * z.cpu_batches / (now() - t0));
    }
    return median(rates);
  };

  std::vector<Row> rows;
  bool valid = true;
  std::string validation;
  const Normalization norm = normalization_for(ds);
  for (const std::string preset : {"mocov2", "small-strong", "simclr", "byol"}) {
    const ViewPipelines v = augment_preset(preset, 32, norm);
    Row row{preset, 0, 0, 0, 0};
    // validation: one batch against the CPU reference
    const std::vector<int64_t> idx(order.begin(), order.begin() + std::min<int64_t>(z.batch, 256));
    const TwoViewBatch want = make_views(ds, idx, v.first, v.second, 1, 0, threads);
    const TwoViewBatch got = make_views_device(dev, idx, v.first, v.second, 1, 0);
    row.worst = std::max(worst_step(want.view1, download_floats(ctx, got.view1), v.first),
                         worst_step(want.view2, download_floats(ctx, got.view2), v.second));
    valid = valid && row.worst <= 1.0;
    char line[96];
    std::snprintf(line, sizeof line, "%s%s %.2g step", validation.empty() ? "" : ", ", preset.c_str(), row.worst);
    validation += line;

    const int64_t B = z.batch;
    const Tensor f1 = Tensor::empty({B, 3, 32, 32}, DType::F32, gpu), f2 = Tensor::empty({B, 3, 32, 32}, DType::F32, gpu);
    const Tensor h1 = Tensor::empty({B, 32, 32, 3}, DType::BF16, gpu).permute({0, 3, 1, 2});
    const Tensor h2 = Tensor::empty({B, 32, 32, 3}, DType::BF16, gpu).permute({0, 3, 1, 2});
    row.f32 = time_device(v, f1, f2);
    row.bf16 = time_device(v, h1, h2);
    row.cpu = time_cpu(v);
    rows.push_back(row);
    std::fflush(stdout);
  }
  std::printf("validation: %s (bound 1 step: %s)\n", validation.c_str(), valid ? "passed" : "FAILED");

  const char* dev_label = kEmulated ? "emulated" : "device";
  std::printf("\n| preset (32 px, two views) | CPU make_views, %d threads | %s float32 NCHW | %s bfloat16 NHWC | "
              "%s / CPU | target 1M views/s |\n|---|---|---|---|---|---|\n",
              threads, dev_label, dev_label, dev_label);
  for (const Row& r : rows)
    std::printf("| %s | %.0f views/s | %.0f views/s | %.0f views/s | %.1fx | %s |\n", r.preset.c_str(), r.cpu, r.f32,
                r.bf16, r.f32 / r.cpu, kEmulated ? "(not a GPU figure)" : (r.f32 >= 1e6 ? "met" : "NOT met"));

  if (!json_path.empty()) {
    FILE* f = std::fopen(json_path.c_str(), "w");
    if (!f) {
      std::fprintf(stderr, "bench_augment_device: cannot write %s\n", json_path.c_str());
      return 2;
    }
    std::fprintf(f, "{\"device\": \"%s\", \"emulated\": %s, \"batch\": %lld, \"cpu_threads\": %d, \"rows\": [", prop.name,
                 kEmulated ? "true" : "false", static_cast<long long>(z.batch), threads);
    for (size_t i = 0; i < rows.size(); ++i)
      std::fprintf(f,
                   "%s{\"preset\": \"%s\", \"cpu_views_per_s\": %.0f, \"device_f32_nchw_views_per_s\": %.0f, "
                   "\"device_bf16_nhwc_views_per_s\": %.0f, \"validation_worst_step\": %.3g}",
                   i ? ", " : "", rows[i].preset.c_str(), rows[i].cpu, rows[i].f32, rows[i].bf16, rows[i].worst);
    std::fprintf(f, "]}\n");
    std::fclose(f);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return valid ? 0 : 1;
}

#endif
