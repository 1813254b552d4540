// Data path benchmark (CPU): JPEG decode rate per core on the shared CIFAR-10 archive, and
// two-view augmentation throughput at 32 px (and 224 px) on 1 and 2 threads.
// usage: bench_data [CIFAR_DIR] (default: ../shared/data/cifar10 beside the source tree)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include "ssl/data/augment.h"
#include "ssl/data/augment_presets.h"
#include "ssl/data/dataset.h"
#include "ssl/data/image_decode.h"
#include "ssl/data/tar_reader.h"

using namespace slimssl;
using namespace slimssl::data;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

void bench_decode(const std::string& dir) {
  const std::string archive = dir + "/cifar10-train-jpeg.tar.gz";
  if (!path_exists(archive)) {
    std::printf("decode: skipped (no %s)\n", archive.c_str());
    return;
  }
  // Pure decode (stb_image + structure check) on one core, from members already in memory.
  std::vector<std::vector<uint8_t>> files;
  double t0 = now();
  TarReader tar(archive);
  TarMember m;
  while (tar.next(m))
    if (m.regular) files.push_back(tar.read_data());
  double read_s = now() - t0;
  t0 = now();
  for (auto& f : files) decode_image(f.data(), f.size(), 3);
  double decode_s = now() - t0;
  std::printf("decode: %zu CIFAR-10 train JPEGs (32x32): gunzip+untar %.0f files/s, decode %.0f images/s per core\n",
              files.size(), files.size() / read_s, files.size() / decode_s);
  // End to end, as open_dataset does it: streamed archive, decoding on the pool.
  for (int threads : {1, 2}) {
    LoadOptions o;
    o.threads = threads;
    t0 = now();
    Dataset ds = open_dataset(dir, "train", o);
    double s = now() - t0;
    std::printf("load:   open_dataset(train) on %d thread%s: %.2f s, %.0f images/s (%.0f per thread)\n", threads,
                threads > 1 ? "s" : "", s, ds.size() / s, ds.size() / s / threads);
  }
}

Dataset synthetic(int64_t n, int size) {
  Dataset ds;
  ds.name = "synthetic";
  ds.images = Tensor::empty({n, size, size, 3}, DType::U8);
  uint8_t* p = ds.images.data<uint8_t>();
  for (int64_t i = 0; i < ds.images.numel(); ++i) p[i] = static_cast<uint8_t>((i * 2654435761u) >> 24);
  ds.labels = Tensor::zeros({n}, DType::I64);
  return ds;
}

void bench_views(const Dataset& ds, const std::string& preset, int out_size, int batch, int batches) {
  ViewPipelines v = augment_preset(preset, out_size, normalization_for(ds));
  std::vector<int64_t> idx(batch);
  for (int threads : {1, 2}) {
    make_views(ds, {0}, v.first, v.second, 0, 0, threads);  // warm up
    double best = 1e30;
    for (int rep = 0; rep < 3; ++rep) {  // best of three: the machine is shared
      double t0 = now();
      for (int b = 0; b < batches; ++b) {
        for (int i = 0; i < batch; ++i) idx[i] = (int64_t(b) * batch + i) % ds.size();
        make_views(ds, idx, v.first, v.second, 1, static_cast<uint32_t>(b), threads);
      }
      best = std::min(best, now() - t0);
    }
    double views = 2.0 * batch * batches / best;
    std::printf("views:  %-12s %3d px from %dx%d, %d thread%s: %9.0f views/s (%.0f per thread)\n", preset.c_str(), out_size,
                static_cast<int>(ds.height()), static_cast<int>(ds.width()), threads, threads > 1 ? "s" : " ", views,
                views / threads);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // __FILE__ is this source's absolute path under CMake: <source>/benchmarks/bench_data.cpp
  std::string source_dir = std::filesystem::path(__FILE__).parent_path().parent_path().string();
  std::string dir = argc > 1 ? argv[1] : source_dir + "/../shared/data/cifar10";
  bench_decode(dir);
  Dataset small = path_exists(dir) ? open_dataset(dir, "test") : synthetic(10000, 32);
  for (const char* preset : {"mocov2", "small-strong", "simclr", "byol", "eval"}) bench_views(small, preset, 32, 256, 20);
  Dataset fm = find_fashion_mnist().empty() ? synthetic(10000, 28) : open_dataset("fashion-mnist", "test");
  bench_views(fm, "small-strong", 28, 256, 20);
  Dataset large = synthetic(64, 256);
  for (const char* preset : {"mocov2", "byol"}) bench_views(large, preset, 224, 32, 2);
  return 0;
}
