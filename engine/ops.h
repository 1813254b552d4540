// The op API. Every op is a front: it checks its inputs (throwing an Error that names the op and
// the shapes), allocates the output, calls the backend of the inputs' device (engine/backend.h)
// and records its backward (see autograd.h). Inputs may have any strides; float ops accept
// float32, float64 and bfloat16.
#pragma once
#include <optional>
#include <vector>
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/tensor.h"

namespace slimssl {

// ---------- elementwise, with NumPy broadcasting (engine/ops_elementwise.cpp) ----------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);  // gradient to the larger (a on ties)
Tensor add(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor rsub(double a, const Tensor& b);  // a - b
Tensor neg(const Tensor& a);
Tensor pow(const Tensor& a, double exponent);
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor clamp(const Tensor& a, double lo, double hi);  // gradient 0 outside [lo, hi]
Tensor reciprocal(const Tensor& a);
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return add(a, -b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator*(double b, const Tensor& a) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return mul(a, 1.0 / b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// Reduces a broadcast gradient back to `shape` by summing the broadcast dimensions.
Tensor sum_to(const Tensor& g, const Shape& shape);

// ---------- activations (engine/ops_activation.cpp) ----------
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);
Tensor hardswish(const Tensor& x);
Tensor hardsigmoid(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor tanh(const Tensor& x);
enum class GeluApprox { Erf, Tanh };
Tensor gelu(const Tensor& x, GeluApprox approx = GeluApprox::Erf);

// ---------- reductions (engine/ops_reduce.cpp) ----------
// `dims` empty means all dimensions; negative dims count from the end.
Tensor sum(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, std::vector<int64_t> dims = {}, bool keepdim = false);
Tensor var(const Tensor& x, std::vector<int64_t> dims = {}, bool unbiased = true, bool keepdim = false);
Tensor amax(const Tensor& x, int64_t dim, bool keepdim = false);  // gradient to the first max
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // int64, not differentiable

// ---------- linear algebra (engine/ops_linalg.cpp) ----------
// a [..., n, k] @ b [..., k, m] with broadcast batch dims; 1-d operands as in NumPy.
Tensor matmul(const Tensor& a, const Tensor& b);
// x [..., in] @ w[out, in]^T + bias[out]; w may be a strided slice of a larger weight.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = {});

// ---------- convolution and pooling (engine/ops_conv.cpp, engine/ops_pool.cpp) ----------
// x [N, C, H, W], w [O, C/groups, kh, kw] (read through its strides: a slice of a larger weight
// needs no copy), bias [O] or undefined. (Conv2dParams: engine/backend.h.)
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias = {}, const Conv2dParams& p = {});
Tensor max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad = 0);
Tensor avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad = 0);  // counts padding
Tensor adaptive_avg_pool2d(const Tensor& x, int64_t out_h, int64_t out_w);

// ---------- normalization and regularization (engine/ops_norm.cpp) ----------
// Training: normalizes with batch statistics over (N, H, W) and updates running_mean/var in place
// (unbiased variance, PyTorch's convention). Eval: uses the running statistics. x is [N, C] or
// [N, C, H, W]; weight/bias [C] or undefined (no affine).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean,
                  Tensor running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Normalizes over the last `normalized_dims` dimensions.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t normalized_dims = 1,
                  double eps = 1e-5);
// Inverted dropout; the mask comes from the counter-based RNG keyed by (seed, counter).
Tensor dropout(const Tensor& x, double p, bool training, uint64_t seed, uint64_t counter);

// ---------- softmax and losses (engine/ops_loss.cpp) ----------
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);
// logits [N, C]; targets int64 [N] (hard) -> mean loss.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets);
// logits [N, C]; target probabilities [N, C] (soft; not differentiated) -> mean over N.
Tensor soft_cross_entropy(const Tensor& logits, const Tensor& target_probs);
// x / max(||x||_2, eps) along dim.
Tensor normalize(const Tensor& x, int64_t dim = -1, double eps = 1e-12);

// ---------- joining and indexing (engine/ops_index.cpp) ----------
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);  // index int64 [k]
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);        // index int64, x's rank
// A random order of [0, n) and its inverse, drawn where `counter` (an int64 scalar) lives from
// (seed, *counter, tag): random_permutation(n, RandomStream(seed, low, high, tag)) of base/rng.h
// on every device. The counter is read by the device, so nothing comes from the host per call.
struct Permutation {
  Tensor order, inverse;  // int64 [n] on counter's device; inverse[order[i]] = i
};
Permutation random_permutation(int64_t n, uint64_t seed, const Tensor& counter, uint32_t tag);
// index_select(x, 0, p.order) without the range check (and so without its read-back): for a
// permutation made by random_permutation, whose values are in range by construction.
Tensor permute_rows(const Tensor& x, const Tensor& order);
// dst[*block] = src (not differentiated), dst [B, ...] contiguous, src dst's shape without its
// first dimension, `block` an int64 scalar on dst's device, read there: a write position kept in
// device memory (StepScalars), so the launches do not change when it moves. Made of the gather
// and scatter-add primitives: the old block is gathered and subtracted (x + (-x) is exactly 0 for
// finite x), then src added (0 + v is exactly v). Unchecked: *block must lie in [0, B).
void write_block(const Tensor& dst, const Tensor& block, const Tensor& src);

// Normalizes a possibly negative dimension for a tensor of rank `rank`; names `op` on error.
int64_t wrap_dim(int64_t dim, int64_t rank, const char* op);
// Broadcast shape of two shapes, or an Error naming op and both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Checks that tensors share device (and dtype when `same_dtype`), naming the op.
void check_same(const char* op, const Tensor& a, const Tensor& b, bool same_dtype = true);
// Checks that t is defined and of a floating dtype, naming the op.
void check_float(const char* op, const Tensor& t);

}  // namespace slimssl
