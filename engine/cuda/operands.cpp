#include "engine/cuda/operands.h"
#include <algorithm>
#include <cstdlib>
#include <vector>

namespace slimssl::cuda {

kernels::Strided strided(const char* op, const Tensor& t) {
  SLIMSSL_CHECK(t.dim() <= kernels::kMaxRank, op, ": a tensor of rank ", t.dim(), " (shape ", shape_str(t.shape()),
                ") has more than the ", kernels::kMaxRank, " dimensions the CUDA kernels take");
  kernels::Strided s;
  s.data = t.raw();
  s.rank = static_cast<int>(t.dim());
  for (int d = 0; d < s.rank; ++d) s.shape[d] = t.size(d), s.strides[d] = t.stride(d);
  return s;
}

void check_dtype(const char* op, const char* name, const Tensor& t, DType want) {
  SLIMSSL_CHECK(t.dtype() == want, op, ": ", name, " is ", dtype_name(t.dtype()), "; expected ", dtype_name(want));
}

void check_same_shape(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b) {
  SLIMSSL_CHECK(a.shape() == b.shape(), op, ": ", a_name, " ", shape_str(a.shape()), " and ", b_name, " ",
                shape_str(b.shape()), " must have one shape");
}

void check_writable(const char* op, const Tensor& out) {
  // Sufficient for distinct elements: with the dimensions of size > 1 sorted by stride magnitude,
  // each stride steps past everything the smaller ones reach.
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size)
  for (int64_t d = 0; d < out.dim(); ++d)
    if (out.size(d) > 1) dims.push_back({std::llabs(out.stride(d)), out.size(d)});
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // the largest offset the dimensions so far reach
  for (auto [stride, size] : dims) {
    SLIMSSL_CHECK(stride > reach, op, ": the output (shape ", shape_str(out.shape()), ", strides ",
                  shape_str(out.strides()), ") has elements that share memory");
    reach += stride * (size - 1);
  }
}

}  // namespace slimssl::cuda
