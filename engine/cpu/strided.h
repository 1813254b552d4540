// The CPU reference backend's one iteration primitive: visit every element of `shape` once,
// handing the callback the element offset of each of N operands (each with its own strides, 0 for
// broadcast dimensions). The innermost dimension runs as a tight loop; big iterations split their
// rows over OpenMP threads.
#pragma once
#include <array>
#include <cstddef>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace slimssl::cpu {

template <size_t N, class F>
void for_each_offset(const std::vector<int64_t>& shape, const std::array<const int64_t*, N>& strides,
                     const std::array<int64_t, N>& base, F&& f) {
  const int64_t nd = static_cast<int64_t>(shape.size());
  int64_t total = 1;
  for (auto s : shape) total *= s;
  if (total == 0) return;
  if (nd == 0) {
    f(base);
    return;
  }
  const int64_t inner = shape[nd - 1];
  const int64_t rows = total / inner;
  std::array<int64_t, N> step;
  for (size_t k = 0; k < N; ++k) step[k] = strides[k][nd - 1];

  auto run_rows = [&](int64_t r0, int64_t r1) {
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 1, 0);
    std::array<int64_t, N> row = base;
    int64_t rem = r0;
    for (int64_t d = nd - 2; d >= 0; --d) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      for (size_t k = 0; k < N; ++k) row[k] += idx[d] * strides[k][d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      std::array<int64_t, N> o = row;
      for (int64_t i = 0; i < inner; ++i) {
        f(o);
        for (size_t k = 0; k < N; ++k) o[k] += step[k];
      }
      for (int64_t d = nd - 2; d >= 0; --d) {
        ++idx[d];
        for (size_t k = 0; k < N; ++k) row[k] += strides[k][d];
        if (idx[d] < shape[d]) break;
        for (size_t k = 0; k < N; ++k) row[k] -= strides[k][d] * shape[d];
        idx[d] = 0;
      }
    }
  };

  // Threads only pay off past ~64K elements; below that the fork/join costs more than the work.
  if (total < (1 << 16) || rows < 2) {
    run_rows(0, rows);
    return;
  }
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t chunk = (rows + nt - 1) / nt;
    int64_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
    if (r0 < r1) run_rows(r0, r1);
  }
}

}  // namespace slimssl::cpu
