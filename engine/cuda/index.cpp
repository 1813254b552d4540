// CudaBackend: gather, scatter_add and the index range check (kernels/index.h).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/index.h"

namespace slimssl::cuda {
namespace {

// index has `x`'s rank and fits inside x in every dimension but `dim` (where its values point).
void check_index_shape(const char* op, const char* x_name, const Tensor& x, int64_t dim, const Tensor& index) {
  check_dtype(op, "index", index, DType::I64);
  SLIMSSL_CHECK(dim >= 0 && dim < x.dim(), op, ": dim ", dim, " is out of range for ", x_name, " of shape ",
                shape_str(x.shape()));
  SLIMSSL_CHECK(index.dim() == x.dim(), op, ": index ", shape_str(index.shape()), " must have the rank of ", x_name,
                " ", shape_str(x.shape()));
  for (int64_t k = 0; k < x.dim(); ++k)
    SLIMSSL_CHECK(k == dim || index.size(k) <= x.size(k), op, ": index ", shape_str(index.shape()),
                  " is larger than ", x_name, " ", shape_str(x.shape()), " in dimension ", k);
}

}  // namespace

void CudaBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) {
  const char* op = "cuda gather";
  check_device(op, ctx_.device(), {&x, &index, &out});
  check_index_shape(op, "x", x, dim, index);
  check_dtype(op, "out", out, x.dtype());
  check_same_shape(op, "index", index, "out", out);
  check_writable(op, out);
  kernels::gather(x.dtype(), strided(op, x), static_cast<int>(dim), strided(op, index), strided(op, out),
                  ctx_.stream());
  check_launch(op);
}

void CudaBackend::scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) {
  const char* op = "cuda scatter_add";
  check_device(op, ctx_.device(), {&dst, &index, &src});
  check_float(op, dst);
  check_dtype(op, "src", src, dst.dtype());
  check_index_shape(op, "dst", dst, dim, index);
  check_same_shape(op, "index", index, "src", src);
  check_writable(op, dst);
  kernels::scatter_add(dst.dtype(), strided(op, dst), static_cast<int>(dim), strided(op, index), strided(op, src),
                       ctx_.stream());
  check_launch(op);
}

bool CudaBackend::index_in_range(const Tensor& index, int64_t limit) {
  const char* op = "cuda index_in_range";
  check_device(op, ctx_.device(), {&index});
  check_dtype(op, "index", index, DType::I64);
  auto* flag = static_cast<unsigned*>(ctx_.workspace(sizeof(unsigned)));
  kernels::index_in_range(strided(op, index), limit, flag, ctx_.stream());
  check_launch(op);
  unsigned bad = 1;
  copy_bytes(&bad, false, flag, true, sizeof bad);
  return bad == 0;
}

}  // namespace slimssl::cuda
