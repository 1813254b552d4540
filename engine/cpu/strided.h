// The CPU reference backend's one iteration primitive: visit every element of `shape` once,
// handing the callback the element offset of each of N operands (each with its own strides, 0 for
// broadcast dimensions). Dimensions that all operands walk as one are merged first; the innermost
// dimension runs as a tight loop (vectorizable when every operand steps by one); big iterations
// split their rows (or their one long row) over OpenMP threads.
#pragma once
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>
#include <omp.h>

namespace slimssl::cpu {

// Merges neighbouring dimensions that every operand walks as one (stride[d] == stride[d+1] *
// shape[d+1]) and drops size-1 ones, so a contiguous tensor becomes one long row: the innermost
// loop then runs the whole tensor, and with unit steps it vectorizes.
template <size_t N>
void coalesce(std::vector<int64_t>& shape, std::array<std::vector<int64_t>, N>& strides) {
  std::vector<int64_t> out_shape;
  std::array<std::vector<int64_t>, N> out_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out_shape.empty();
    for (size_t k = 0; k < N && merge; ++k) merge = out_strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      out_shape.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) out_strides[k].back() = strides[k][d];
      continue;
    }
    out_shape.push_back(shape[d]);
    for (size_t k = 0; k < N; ++k) out_strides[k].push_back(strides[k][d]);
  }
  shape = std::move(out_shape);
  strides = std::move(out_strides);
}

template <size_t N, class F>
void for_each_offset(const std::vector<int64_t>& shape_in, const std::array<const int64_t*, N>& strides_in,
                     const std::array<int64_t, N>& base, F&& f) {
  for (auto s : shape_in)
    if (s == 0) return;
  std::vector<int64_t> shape = shape_in;
  std::array<std::vector<int64_t>, N> stride_store;
  for (size_t k = 0; k < N; ++k) stride_store[k].assign(strides_in[k], strides_in[k] + shape.size());
  coalesce<N>(shape, stride_store);
  std::array<const int64_t*, N> strides;
  for (size_t k = 0; k < N; ++k) strides[k] = stride_store[k].data();
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
  bool unit = true;
  for (size_t k = 0; k < N; ++k) {
    step[k] = strides[k][nd - 1];
    unit = unit && step[k] == 1;
  }

  // Elements [i0, i1) of the row starting at offsets `row`.
  auto run_inner = [&](const std::array<int64_t, N>& row, int64_t i0, int64_t i1) {
    if (unit) {
      for (int64_t i = i0; i < i1; ++i) {
        std::array<int64_t, N> o;
        for (size_t k = 0; k < N; ++k) o[k] = row[k] + i;
        f(o);
      }
      return;
    }
    std::array<int64_t, N> o;
    for (size_t k = 0; k < N; ++k) o[k] = row[k] + i0 * step[k];
    for (int64_t i = i0; i < i1; ++i) {
      f(o);
      for (size_t k = 0; k < N; ++k) o[k] += step[k];
    }
  };

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
      run_inner(row, 0, inner);
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
  if (total < (1 << 16) || (rows < 2 && nd > 1)) {
    run_rows(0, rows);
    return;
  }
  if (nd == 1) {  // one long row: threads take slices of it
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      run_inner(base, total * t / nt, total * (t + 1) / nt);
    }
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
