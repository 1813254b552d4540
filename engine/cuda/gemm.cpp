// gemm on CUDA: the Backend primitive over cuBLAS (kernels/gemm_cublas.h). Operands go to cuBLAS
// as they lie in memory, row-major or column-major (a transpose or a channel slice is just a
// leading dimension); an operand cuBLAS cannot address (no unit stride in either matrix
// dimension, or a leading dimension shorter than its rows) is packed into the workspace first.
#include "engine/cuda/cuda_backend.h"
#include "engine/cuda/tensor_geometry.h"
#include "kernels/pack4d.h"

namespace slimssl::cuda {
namespace {

struct Matrix {
  int64_t batch = 1, rows = 0, cols = 0;
  int64_t batch_stride = 0, row_stride = 0, col_stride = 0;
};

Matrix matrix_of(const Tensor& t) {
  const int64_t d = t.dim();
  Matrix m{d == 3 ? t.size(0) : 1, t.size(d - 2), t.size(d - 1), d == 3 ? t.stride(0) : 0, t.stride(d - 2),
           t.stride(d - 1)};
  if (m.batch == 1) m.batch_stride = 0;
  return m;
}

// The operand as cuBLAS reads it, when it can.
bool as_operand(const Tensor& t, const Matrix& m, kernels::GemmOperand& o) {
  o.ptr = t.raw();
  o.batch_stride = m.batch_stride;
  // A size-1 dimension's stride is meaningless: any unit-stride reading works.
  const bool unit_cols = m.col_stride == 1 || m.cols == 1, unit_rows = m.row_stride == 1 || m.rows == 1;
  if (unit_cols) {
    o.col_major = false;
    o.ld = m.rows == 1 ? std::max<int64_t>(m.cols, 1) : m.row_stride;
    if (kernels::blas_addressable(o, m.rows, m.cols)) return true;
  }
  if (unit_rows) {
    o.col_major = true;
    o.ld = m.cols == 1 ? std::max<int64_t>(m.rows, 1) : m.col_stride;
    if (kernels::blas_addressable(o, m.rows, m.cols)) return true;
  }
  return false;
}

// The operand packed dense, row-major, into `buf` (one matrix when broadcast over the batch).
kernels::GemmOperand packed(const Tensor& t, const Matrix& m, void* buf, cudaStream_t st) {
  const int64_t batches = m.batch_stride == 0 ? 1 : m.batch;
  const kernels::Dims4 d{1, batches, m.rows, m.cols};
  kernels::pack4d(d, t.dtype(), t.raw(), {0, m.batch_stride, m.row_stride, m.col_stride}, t.dtype(), buf,
                  kernels::nchw_strides(d), false, st);
  return {buf, std::max<int64_t>(m.cols, 1), batches == 1 ? 0 : m.rows * m.cols, false};
}

size_t packed_bytes(const Tensor& t, const Matrix& m) {
  return static_cast<size_t>((m.batch_stride == 0 ? 1 : m.batch) * m.rows * m.cols) * t.itemsize();
}

}  // namespace

void CudaBackend::gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) {
  check_device("gemm", ctx_.device(), {&a, &b, &c});
  SLIMSSL_CHECK((a.dim() == 2 || a.dim() == 3) && b.dim() == a.dim() && c.dim() == a.dim(),
                "gemm: expected 2-d or 3-d (batched) a, b and c, got ", shape_str(a.shape()), ", ",
                shape_str(b.shape()), ", ", shape_str(c.shape()));
  const Matrix ma = matrix_of(a), mb = matrix_of(b), mc = matrix_of(c);
  SLIMSSL_CHECK(ma.batch == mc.batch && mb.batch == mc.batch && ma.cols == mb.rows && ma.rows == mc.rows &&
                    mb.cols == mc.cols,
                "gemm: shapes ", shape_str(a.shape()), " @ ", shape_str(b.shape()), " -> ", shape_str(c.shape()),
                " do not match");
  check_float("gemm", a);
  SLIMSSL_CHECK(b.dtype() == a.dtype() && (c.dtype() == a.dtype() || (a.dtype() == DType::BF16 && c.dtype() == DType::F32)),
                "gemm: a, b and c must share a float dtype (c may be float32 for bfloat16 a and b), got ",
                dtype_name(a.dtype()), ", ", dtype_name(b.dtype()), ", ", dtype_name(c.dtype()));
  SLIMSSL_CHECK((mc.col_stride == 1 || mc.cols == 1) && (mc.rows == 1 || mc.row_stride >= mc.cols) &&
                    (mc.batch == 1 || mc.batch_stride != 0),
                "gemm: c must be row-major with a unit column stride and distinct matrices, got strides ",
                shape_str(c.strides()));
  kernels::Gemm g;
  g.m = mc.rows, g.n = mc.cols, g.k = ma.cols, g.batch = mc.batch;
  g.ab = a.dtype(), g.c_type = c.dtype();
  g.c = c.raw();
  g.ldc = mc.rows == 1 ? std::max<int64_t>(mc.cols, 1) : mc.row_stride;
  g.batch_stride_c = mc.batch_stride;
  g.alpha = alpha, g.beta = beta;
  const bool direct_a = as_operand(a, ma, g.a), direct_b = as_operand(b, mb, g.b);
  if (!direct_a || !direct_b) {
    const std::vector<void*> ws =
        ctx_.workspaces({direct_a ? 0 : packed_bytes(a, ma), direct_b ? 0 : packed_bytes(b, mb)});
    if (!direct_a) g.a = packed(a, ma, ws[0], ctx_.stream());
    if (!direct_b) g.b = packed(b, mb, ws[1], ctx_.stream());
  }
  kernels::gemm(ctx_.blas(), g);
}

}  // namespace slimssl::cuda
