// GFLOP/s of cpu::gemm (blocked float32) on square sizes and on the im2col GEMMs of a CIFAR
// ResNet-18 at batch 32, with the plain reference (cpu::gemm_ref) beside it on a few rows.
// Each figure is the median of `repeats` timed runs after one warm-up run.
//
//   bench_gemm [repeats=5]
//
// Prints a markdown table (docs/cpu_gemm.md holds a measured copy).
#include <omp.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>
#include "engine/cpu/gemm.h"

namespace {

struct Problem {
  std::string name;
  bool ta, tb;
  int64_t m, n, k;
  bool with_ref;     // also time the naive reference (slow: only a few rows)
  int threads = 0;   // 0: all; 1: one thread, as ops_conv.cpp runs one image per thread
};

using GemmFn = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*,
                        int64_t, float, float*, int64_t);

double median_gflops(GemmFn fn, const Problem& p, const std::vector<float>& a, const std::vector<float>& b,
                     std::vector<float>& c, int repeats) {
  const int64_t lda = p.ta ? p.m : p.k, ldb = p.tb ? p.k : p.n;
  auto once = [&] { fn(p.ta, p.tb, p.m, p.n, p.k, 1.f, a.data(), lda, b.data(), ldb, 0.f, c.data(), p.n); };
  once();  // warm-up: page in the buffers, grow the packing scratch, start the thread pool
  std::vector<double> secs;
  for (int r = 0; r < repeats; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(secs.begin(), secs.end());
  return 2.0 * p.m * p.n * p.k / secs[secs.size() / 2] * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::max(1, std::atoi(argv[1])) : 5;
  // im2col convolution as one GEMM over the batch: out[Cout, B*H*W] = W[Cout, Cin*9] @ cols[Cin*9, B*H*W].
  // Backward rows: dW = dY @ cols^T (NT) and dcols = W^T @ dY (TN).
  const int64_t B = 32;
  std::vector<Problem> problems = {
      {"square 256", false, false, 256, 256, 256, false},
      {"square 512", false, false, 512, 512, 512, true},
      {"square 1024", false, false, 1024, 1024, 1024, false},
      {"square 2048", false, false, 2048, 2048, 2048, false},
      {"square 1024, A^T", true, false, 1024, 1024, 1024, false},
      {"square 1024, B^T", false, true, 1024, 1024, 1024, false},
      {"stem 3->64 @32x32", false, false, 64, B * 32 * 32, 3 * 9, false},
      {"layer1 64->64 @32x32", false, false, 64, B * 32 * 32, 64 * 9, false},
      {"layer2 128->128 @16x16", false, false, 128, B * 16 * 16, 128 * 9, false},
      {"layer3 256->256 @8x8", false, false, 256, B * 8 * 8, 256 * 9, true},
      {"layer4 512->512 @4x4", false, false, 512, B * 4 * 4, 512 * 9, false},
      {"layer3 dW (NT)", false, true, 256, 256 * 9, B * 8 * 8, false},
      {"layer3 dcols (TN)", true, false, 256 * 9, B * 8 * 8, 256, false},
      // ops_conv.cpp's actual calls: one GEMM per image, images spread over the threads, so each
      // GEMM runs on one thread. Forward [O, K] @ [K, HW]; dW += dY [O, HW] @ colT [HW, K];
      // dcolT [HW, K] = dY^T @ W.
      {"per image: layer1 fwd", false, false, 64, 32 * 32, 64 * 9, false, 1},
      {"demo: 16->16 @28x28 fwd", false, false, 16, 28 * 28, 16 * 9, false, 1},
      {"demo: 16->16 @28x28 dW^T", false, false, 16 * 9, 16, 28 * 28, false, 1},
      {"demo: 64->64 @7x7 x6 fwd", false, false, 64, 6 * 49, 64 * 9, false, 1},
      {"demo: 64->64 @7x7 x6 dW^T", false, false, 64 * 9, 64, 6 * 49, false, 1},
      {"per image: layer2 fwd", false, false, 128, 16 * 16, 128 * 9, false, 1},
      {"per image: layer3 fwd", false, false, 256, 8 * 8, 256 * 9, true, 1},
      {"per image: layer4 fwd", false, false, 512, 4 * 4, 512 * 9, false, 1},
      {"per image: layer1 dW", false, false, 64, 64 * 9, 32 * 32, false, 1},
      {"per image: layer4 dW", false, false, 512, 512 * 9, 4 * 4, false, 1},
      {"per image: layer1 dcolT", true, false, 32 * 32, 64 * 9, 64, false, 1},
      {"per image: layer4 dcolT", true, false, 4 * 4, 512 * 9, 512, false, 1},
  };

  std::printf("threads: %d, repeats: %d (median)\n\n", omp_get_max_threads(), repeats);
  std::printf("| problem | M | N | K | op | threads | blocked GFLOP/s | reference GFLOP/s |\n");
  std::printf("|---|---:|---:|---:|---|---:|---:|---:|\n");
  const int all_threads = omp_get_max_threads();
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const auto& p : problems) {
    std::vector<float> a(p.m * p.k), b(p.k * p.n), c(p.m * p.n);
    for (auto& x : a) x = u(gen);
    for (auto& x : b) x = u(gen);
    const int threads = p.threads > 0 ? p.threads : all_threads;
    omp_set_num_threads(threads);
    double fast = median_gflops(slimssl::cpu::gemm, p, a, b, c, repeats);
    std::string ref = "";
    if (p.with_ref) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", median_gflops(slimssl::cpu::gemm_ref, p, a, b, c, repeats));
      ref = buf;
    }
    std::printf("| %s | %lld | %lld | %lld | %c%c | %d | %.1f | %s |\n", p.name.c_str(), (long long)p.m,
                (long long)p.n, (long long)p.k, p.ta ? 'T' : 'N', p.tb ? 'T' : 'N', threads, fast, ref.c_str());
    std::fflush(stdout);
  }
  return 0;
}
