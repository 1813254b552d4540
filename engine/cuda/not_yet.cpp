// TEMPORARY: throwing stand-ins for the CudaBackend primitives not written yet, so the library
// links while the backend is filled in. Each implementation removes its stand-ins from here;
// the file is deleted once it is empty.
#include "engine/cuda/cuda_backend.h"

namespace slimssl::cuda {

// ---- helper "cuda-core" (elementwise, copy, rows, indexing, random) ----
void CudaBackend::fill(const Tensor& dst, double value) { fail("cuda backend: fill is not written yet"); }
void CudaBackend::copy(const Tensor& src, const Tensor& dst) { fail("cuda backend: copy is not written yet"); }
void CudaBackend::copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) { fail("cuda backend: copy_bytes is not written yet"); }
void CudaBackend::synchronize() { fail("cuda backend: synchronize is not written yet"); }
void CudaBackend::unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) { fail("cuda backend: unary is not written yet"); }
void CudaBackend::binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) { fail("cuda backend: binary is not written yet"); }
void CudaBackend::reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, double denom) { fail("cuda backend: reduce_rows is not written yet"); }
void CudaBackend::softmax_rows(const Tensor& x, const Tensor& out, bool log) { fail("cuda backend: softmax_rows is not written yet"); }
void CudaBackend::gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) { fail("cuda backend: gather is not written yet"); }
void CudaBackend::scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) { fail("cuda backend: scatter_add is not written yet"); }
bool CudaBackend::index_in_range(const Tensor& index, int64_t limit) { fail("cuda backend: index_in_range is not written yet"); }
void CudaBackend::uniform(const Tensor& out, uint64_t seed, uint64_t counter) { fail("cuda backend: uniform is not written yet"); }

}  // namespace slimssl::cuda
