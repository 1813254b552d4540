// GFLOP per CPU-second of the CPU backend's three convolution passes (forward, data gradient,
// weight gradient) on the shapes of the demo's slimmable ResNet-20 (28 px, batch 128, widths 1.0,
// 0.5, 0.25) and of ResNet-18's CIFAR stages (32 px, batch 64), one thread. Each figure is the
// best of `repeats` timed runs after a warm-up; CPU time, so that other jobs on shared cores do
// not count.
//
//   bench_conv [repeats=3] [name filter: only shapes whose name contains it]
#include <omp.h>
#include <time.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include "engine/backend.h"
#include "engine/tensor.h"

using namespace slimssl;

namespace {

struct Shape4 {
  std::string name;
  int64_t N, C, H, O, k, stride;
};

double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

template <class F>
double best_seconds(int repeats, F&& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = cpu_seconds();
    f();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

Tensor filled(const slimssl::Shape& s, double v) { return Tensor::full(s, v); }

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 3;
  const std::string filter = argc > 2 ? argv[2] : "";
  omp_set_num_threads(1);
  std::vector<Shape4> shapes;
  for (double w : {1.0, 0.5, 0.25}) {
    const auto ch = [&](int64_t c) { return static_cast<int64_t>(c * w); };
    const std::string tag = " w" + std::to_string(w).substr(0, 4);
    shapes.push_back({"r20 stem" + tag, 128, 3, 28, ch(16), 3, 1});
    shapes.push_back({"r20 s1 3x3" + tag, 128, ch(16), 28, ch(16), 3, 1});
    shapes.push_back({"r20 s2 3x3/2" + tag, 128, ch(16), 28, ch(32), 3, 2});
    shapes.push_back({"r20 s2 3x3" + tag, 128, ch(32), 14, ch(32), 3, 1});
    shapes.push_back({"r20 s3 3x3" + tag, 128, ch(64), 7, ch(64), 3, 1});
  }
  shapes.push_back({"r18 s1 3x3", 64, 64, 32, 64, 3, 1});
  shapes.push_back({"r18 s2 3x3", 64, 128, 16, 128, 3, 1});
  shapes.push_back({"r18 s3 3x3", 64, 256, 8, 256, 3, 1});
  shapes.push_back({"r18 s4 3x3", 64, 512, 4, 512, 3, 1});
  std::printf("| shape | N C H O k/s | forward | data grad | weight grad |  (GFLOP per CPU-s, 1 thread)\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& s : shapes) {
    if (s.name.find(filter) == std::string::npos) continue;
    Conv2dParams p;
    p.stride_h = p.stride_w = s.stride;
    p.pad_h = p.pad_w = s.k / 2;
    const int64_t OH = (s.H + 2 * p.pad_h - s.k) / s.stride + 1;
    Tensor x = filled({s.N, s.C, s.H, s.H}, 0.5), w = filled({s.O, s.C, s.k, s.k}, 0.25);
    Tensor y = Tensor::empty({s.N, s.O, OH, OH}), gy = filled({s.N, s.O, OH, OH}, 0.1);
    Tensor dx = Tensor::empty(x.shape()), dw = Tensor::zeros(w.shape());
    Backend& b = backend_of(x);
    const double flops = 2.0 * s.N * s.O * OH * OH * s.C * s.k * s.k;
    const double f = best_seconds(repeats, [&] { b.conv2d(x, w, Tensor(), p, y); });
    const double d = best_seconds(repeats, [&] { b.conv2d_backward_data(gy, w, p, dx); });
    const double g = best_seconds(repeats, [&] { b.conv2d_backward_weight(x, gy, p, dw); });
    std::printf("| %s | %ld %ld %ld %ld %ld/%ld | %.1f | %.1f | %.1f |\n", s.name.c_str(), s.N, s.C, s.H, s.O, s.k,
                s.stride, flops / f * 1e-9, flops / d * 1e-9, flops / g * 1e-9);
  }
  return 0;
}
