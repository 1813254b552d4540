// The device seam. Every op of engine/ops.h is a front (argument checks, output allocation, the
// autograd record) that calls the Backend of its inputs' device for the arithmetic; backward
// closures call only ops or Backend functions and save only Tensors, so one backward runs on any
// device. engine/cpu/ is the CPU reference backend, engine/cuda/ the CUDA backend (over kernels/,
// cuBLAS and cuDNN). The op table test holds every backend to the CPU's results.
//
// Contract of every primitive (unless it says otherwise):
//   - all tensors live on this backend's device (one device index per call);
//   - outputs are allocated by the caller (shape and dtype as stated) and may have any strides;
//     inputs may have any strides (0 for broadcast dimensions: the front expands them);
//   - "float" means float32, float64 or bfloat16; bfloat16 data is computed in float32;
//   - calls are asynchronous on the device's stream; reading a result on the host (Tensor::item,
//     to_vector, copies to the CPU) synchronizes.
#pragma once
#include <cstdint>
#include "base/scalar_ops.h"
#include "engine/tensor.h"

namespace slimssl {

struct Conv2dParams {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_h = 0, pad_w = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;
};

// The windows of an average pool: fixed (k x k, stride s, padding counted in the divisor, as
// PyTorch's count_include_pad=True) or adaptive (PyTorch's floor/ceil bins for a given output).
struct PoolWindows {
  enum class Kind : uint8_t { Fixed, Adaptive } kind = Kind::Fixed;
  int64_t kernel = 1, stride = 1, pad = 0;  // Fixed only
};

enum class ReduceOp : uint8_t {
  Sum,     // out[r] = sum_c x[r, c]
  Max,     // out[r] = x[r, argmax]; NaN counts as the maximum
  ArgMax,  // out[r] (int64) = the first maximum's column (NaN counts as the maximum)
  Var,     // out[r] = sum_c (x[r, c] - mean_r)^2 / denom (two-pass)
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory ----
  // dst[...] = value, converted to dst's dtype (any dtype).
  virtual void fill(const Tensor& dst, double value) = 0;
  // dst = src element for element, converted between any two dtypes; same shape.
  virtual void copy(const Tensor& src, const Tensor& dst) = 0;
  // Host <-> device byte copies of `nbytes` (one side may be host memory). Synchronous.
  virtual void copy_bytes(void* dst, bool dst_on_device, const void* src, bool src_on_device, size_t nbytes) = 0;
  // Waits for all work queued on the device.
  virtual void synchronize() = 0;

  // ---- elementwise (float) ----
  // out = unary_op(op, x; a, b). x and out: same shape, same float dtype. out may be x itself
  // (identical geometry): in-place.
  virtual void unary(UnaryOp op, const Tensor& x, const Tensor& out, double a = 0, double b = 0) = 0;
  // out = binary_op(op, x, y; alpha). All three one shape and one float dtype, except that y may
  // be float32 when x and out are bfloat16 (accumulating a float32 gradient into bfloat16 is not
  // allowed: out's dtype wins). out may be x itself (in-place).
  virtual void binary(BinaryOp op, const Tensor& x, const Tensor& y, const Tensor& out, double alpha = 1) = 0;

  // ---- rows (x contiguous [rows, cols], out contiguous, float) ----
  // out [rows]: x's dtype (int64 for ArgMax). `denom` is Var's divisor.
  virtual void reduce_rows(ReduceOp op, const Tensor& x, const Tensor& out, double denom = 0) = 0;
  // out [rows, cols] contiguous: softmax of each row, or log-softmax when `log`.
  virtual void softmax_rows(const Tensor& x, const Tensor& out, bool log) = 0;

  // ---- linear algebra ----
  // c = alpha * a @ b + beta * c, for 2-d a [m, k], b [k, n], c [m, n] or 3-d batched
  // a [B, m, k], b [B, k, n], c [B, m, n] (batch strides may be 0: a broadcast operand).
  // Each of a, b has a unit stride in one of its two matrix dimensions (row- or column-major, so
  // transposes and channel slices are free) and c a unit column stride; the front copies
  // otherwise. a and b share a dtype; c has it too, or is float32 when a and b are bfloat16
  // (products accumulate in float32 on every backend).
  virtual void gemm(const Tensor& a, const Tensor& b, const Tensor& c, double alpha, double beta) = 0;

  // ---- convolution (x [N, C, H, W], w [O, C/groups, kh, kw], any strides: w is often a
  // channel slice W[:O, :C] of a larger weight) ----
  // y [N, O, OH, OW] = conv(x, w) + bias. x and y share the activation dtype (float); w and bias
  // are that dtype or float32 (a bfloat16 conv may read float32 master weights). bias [O] or
  // undefined.
  virtual void conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dParams& p,
                      const Tensor& y) = 0;
  // dx [N, C, H, W] = the gradient of the input (overwritten), from gy (y's shape and dtype).
  virtual void conv2d_backward_data(const Tensor& gy, const Tensor& w, const Conv2dParams& p, const Tensor& dx) = 0;
  // dw += the gradient of the weight, dw with w's shape and dtype and any strides: it is usually
  // the region of the parent parameter's .grad that w's slice maps to (accumulated into in place).
  virtual void conv2d_backward_weight(const Tensor& x, const Tensor& gy, const Conv2dParams& p, const Tensor& dw) = 0;

  // ---- normalization (x is [N, C] or [N, C, H, W], float; statistics, weight and bias are
  // float32, or float64 for float64 x) ----
  // mean [C], var [C]: per channel over (N, H, W), the biased variance.
  virtual void batch_norm_stats(const Tensor& x, const Tensor& mean, const Tensor& var) = 0;
  // y = (x - mean) * invstd * weight + bias (weight/bias [C] or undefined); y: x's shape, dtype.
  virtual void batch_norm_forward(const Tensor& x, const Tensor& mean, const Tensor& invstd, const Tensor& weight,
                                  const Tensor& bias, const Tensor& y) = 0;
  // From gy (x's shape and dtype). Training differentiates through the batch statistics:
  // dx = w * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)), xhat = (x - mean) * invstd; eval:
  // dx = w * invstd * gy. dw[c] = sum gy * xhat, db[c] = sum gy. Any of dx, dw, db may be
  // undefined (not wanted); dx is overwritten, dw and db too.
  virtual void batch_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                   const Tensor& weight, bool training, const Tensor& dx, const Tensor& dw,
                                   const Tensor& db) = 0;
  // x [rows, cols] contiguous; each row normalized; weight/bias [cols] or undefined. mean and
  // invstd [rows] (float32, float64 for float64 x) are written for the backward.
  virtual void layer_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                                  const Tensor& y, const Tensor& mean, const Tensor& invstd) = 0;
  // dx [rows, cols] overwritten; dw, db [cols] overwritten; any may be undefined.
  virtual void layer_norm_backward(const Tensor& gy, const Tensor& x, const Tensor& mean, const Tensor& invstd,
                                   const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db) = 0;

  // ---- pooling (x [N, C, H, W], float) ----
  // y [N, C, OH, OW]; argmax (int64, y's shape) = h * W + w of each window's first maximum within
  // its plane (NaN wins; padding acts as -inf).
  virtual void max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& y,
                          const Tensor& argmax) = 0;
  // dx (x's shape, zero-filled by the caller) += gy routed to argmax.
  virtual void max_pool2d_backward(const Tensor& gy, const Tensor& argmax, const Tensor& dx) = 0;
  virtual void avg_pool2d(const Tensor& x, const PoolWindows& win, const Tensor& y) = 0;
  // dx (zero-filled by the caller) += each output's gradient spread over its window.
  virtual void avg_pool2d_backward(const Tensor& gy, const PoolWindows& win, const Tensor& dx) = 0;

  // ---- indexing (index int64, the rank of x) ----
  // out[p] = x[p with coordinate `dim` replaced by index[p]]; out has index's shape, x's dtype.
  virtual void gather(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& out) = 0;
  // dst[p with coordinate `dim` replaced by index[p]] += src[p] (repeated indices add up; the
  // order of additions is fixed: results are deterministic). src has index's shape.
  virtual void scatter_add(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src) = 0;
  // Whether every element of index lies in [0, limit). (Reads back: synchronizes.)
  virtual bool index_in_range(const Tensor& index, int64_t limit) = 0;

  // ---- random ----
  // out (float, any strides): element e (logical row-major order) = element_uniform(seed,
  // counter, e) from base/rng.h, in [0, 1).
  virtual void uniform(const Tensor& out, uint64_t seed, uint64_t counter) = 0;
  // order, inverse: contiguous int64 [n]; counter: an int64 scalar, read where it lives (on the
  // device: no host round trip). order = random_permutation(n, RandomStream(seed, low, high, tag))
  // of base/rng.h with (low, high) the halves of *counter; inverse[order[i]] = i.
  virtual void permutation(const Tensor& order, const Tensor& inverse, uint64_t seed, const Tensor& counter,
                           uint32_t tag) = 0;
};

// The backend of a device: the CPU's always; CUDA's when built with CUDA and a GPU (or the
// emulated device) is present, else an Error naming the device.
Backend& backend_for(Device d);
inline Backend& backend_of(const Tensor& t) { return backend_for(t.device()); }

}  // namespace slimssl
