// CudaBackend: row reductions and softmax (kernels/rows.h). x is [rows, cols] with unit column
// stride; its row stride may be anything (the contract asks for contiguous x: more is accepted).
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/operands.h"
#include "kernels/rows.h"

namespace slimssl::cuda {
namespace {

kernels::RowMatrix row_matrix(const char* op, const char* name, const Tensor& t) {
  SLIMSSL_CHECK(t.dim() == 2, op, ": ", name, " must be a [rows, cols] matrix, got shape ", shape_str(t.shape()));
  SLIMSSL_CHECK(t.size(1) <= 1 || t.stride(1) == 1, op, ": ", name, " (shape ", shape_str(t.shape()), ", strides ",
                shape_str(t.strides()), ") must have unit column stride");
  return {t.raw(), t.size(0), t.size(1), t.stride(0)};
}

kernels::RowReduce row_reduce(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return kernels::RowReduce::Sum;
    case ReduceOp::Max: return kernels::RowReduce::Max;
    case ReduceOp::ArgMax: return kernels::RowReduce::ArgMax;
    case ReduceOp::Var: return kernels::RowReduce::Var;
  }
  fail("cuda reduce_rows: unknown reduction ", static_cast<int>(op));
}

}  // namespace

void CudaBackend::reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, double denom) {
  const char* name = "cuda reduce_rows";
  check_device(name, ctx_.device(), {&x, &out});
  check_float(name, x);
  const kernels::RowMatrix m = row_matrix(name, "x", x);
  check_dtype(name, "out", out, op == ReduceOp::ArgMax ? DType::I64 : x.dtype());
  SLIMSSL_CHECK(out.dim() == 1 && out.size(0) == m.rows, name, ": out must be [", m.rows, "] for x ",
                shape_str(x.shape()), ", got ", shape_str(out.shape()));
  check_writable(name, out);
  kernels::reduce_rows(row_reduce(op), x.dtype(), m, out.raw(), out.stride(0), denom, ctx_.stream());
  check_launch(name);
}

void CudaBackend::softmax_rows(const Tensor& x, const Tensor& out, bool log) {
  const char* name = "cuda softmax_rows";
  check_device(name, ctx_.device(), {&x, &out});
  check_float(name, x);
  check_dtype(name, "out", out, x.dtype());
  check_same_shape(name, "x", x, "out", out);
  const kernels::RowMatrix m = row_matrix(name, "x", x);
  const kernels::RowMatrix o = row_matrix(name, "out", out);
  check_writable(name, out);
  kernels::softmax_rows(x.dtype(), m, out.raw(), o.row_stride, log, ctx_.stream());
  check_launch(name);
}

}  // namespace slimssl::cuda
