// Reductions and row-wise ops over arbitrary dimensions move those dimensions last and make the
// result contiguous: a [rows, cols] matrix whose rows the backend processes. One copy (none when
// the dimensions already are last), simple kernels on every backend.
#pragma once
#include <algorithm>
#include <numeric>
#include <utility>
#include "engine/ops.h"

namespace slimssl {

struct Rows {
  Tensor matrix;     // contiguous [rows, cols] (detached)
  int64_t rows = 1, cols = 1;
  Shape keep_shape;  // the output shape with reduced dims kept as 1
  Shape drop_shape;  // the output shape with reduced dims removed
};

inline std::vector<int64_t> normalize_dims(std::vector<int64_t> dims, int64_t rank, const char* op) {
  if (dims.empty()) {
    dims.resize(rank);
    std::iota(dims.begin(), dims.end(), 0);
  }
  for (auto& d : dims) d = wrap_dim(d, rank, op);
  std::sort(dims.begin(), dims.end());
  SLIMSSL_CHECK(std::adjacent_find(dims.begin(), dims.end()) == dims.end(), op, ": repeated dimension");
  return dims;
}

// The (keep, drop) output shapes of reducing x over the sorted dims.
inline std::pair<Shape, Shape> as_rows_shapes(const Tensor& x, const std::vector<int64_t>& dims_sorted) {
  Shape keep, drop;
  for (int64_t d = 0; d < x.dim(); ++d) {
    bool reduced = std::binary_search(dims_sorted.begin(), dims_sorted.end(), d);
    keep.push_back(reduced ? 1 : x.size(d));
    if (!reduced) drop.push_back(x.size(d));
  }
  return {keep, drop};
}

inline Rows as_rows(const Tensor& x, const std::vector<int64_t>& dims_sorted) {
  Rows r;
  std::vector<int64_t> order;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!std::binary_search(dims_sorted.begin(), dims_sorted.end(), d)) {
      order.push_back(d);
      r.rows *= x.size(d);
    }
  for (auto d : dims_sorted) {
    order.push_back(d);
    r.cols *= x.size(d);
  }
  std::tie(r.keep_shape, r.drop_shape) = as_rows_shapes(x, dims_sorted);
  r.matrix = x.detach().permute(order).contiguous().reshape({r.rows, r.cols});
  return r;
}

// The inverse of as_rows for one reduced dimension: a [rows, shape[dim]] matrix (non-reduced dims
// first, `dim` last) back in `shape`'s dimension order, contiguous.
inline Tensor rows_back(const Tensor& m, const Shape& shape, int64_t dim) {
  Shape moved;
  std::vector<int64_t> back(shape.size());
  for (int64_t k = 0, j = 0; k < static_cast<int64_t>(shape.size()); ++k)
    if (k != dim) moved.push_back(shape[k]), back[k] = j++;
  moved.push_back(shape[dim]);
  back[dim] = static_cast<int64_t>(shape.size()) - 1;
  return m.reshape(moved).permute(back).contiguous();
}

}  // namespace slimssl
