// The CPU reference backend: plain, readable loops over any strides (OpenMP across rows or
// planes past a size threshold) and the blocked SGEMM (engine/cpu/gemm.h). float32 and float64
// are computed natively; bfloat16 operands are widened to float32 and results rounded back.
// Every other backend is tested against this one. Methods are defined by topic in engine/cpu/*.cpp.
#pragma once
#include "engine/backend.h"

namespace slimssl::cpu {

class CpuBackend final : public Backend {
 public:
  const char* name() const override;
  void fill(const Tensor& dst, double value) override;
  void copy(const Tensor& src, const Tensor& dst) override;
  void copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) override;
  void synchronize() override;
  void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a, double b) override;
  void binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha) override;
  void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, double denom) override;
  void softmax_rows(const Tensor& x, const Tensor& out, bool log) override;
  void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) override;
  void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p, const Tensor& y) override;
  void conv2d_backward_data(const Tensor& gy, const Tensor& w, const Conv2dParams& p, const Tensor& dx) override;
  void conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Conv2dParams& p, const Tensor& dw) override;
  void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) override;
  void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, const Tensor& bias, const Tensor& y) override;
  void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, bool training, const Tensor& dx, const Tensor& dw, const Tensor& db) override;
  void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps, const Tensor& y, const Tensor& mean, const Tensor& invstd) override;
  void layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db) override;
  void max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y, const Tensor& argmax) override;
  void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& dx) override;
  void avg_pool2d(const Tensor& x, const PoolWindows& win, const Tensor& y) override;
  void avg_pool2d_backward(const Tensor& gy, const PoolWindows& win, const Tensor& dx) override;
  void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) override;
  void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) override;
  bool index_in_range(const Tensor& index, int64_t limit) override;
  void uniform(const Tensor& out, uint64_t seed, uint64_t counter) override;
  void permutation(const Tensor& order, const Tensor& inverse, uint64_t seed, const Tensor& counter,
                   uint32_t tag) override;
};

}  // namespace slimssl::cpu
