#include "cuda_nn_reference.h"
#include <functional>
#include <vector>
#include "engine/ops.h"

namespace slimssl::cuda_nn_ref {
namespace {

// A fresh leaf holding t's values (undefined stays undefined).
Tensor leaf(const Tensor& t) {
  if (!t.defined()) return {};
  Tensor l = t.detach().clone().detach();
  l.set_requires_grad(true);
  return l;
}

Tensor grad_of(const Tensor& l) { return l.defined() ? l.grad() : Tensor(); }

// y = f(leaves), then backward with gy.
Result run(const std::vector<Tensor>& inputs, const Tensor& gy, const std::function<Tensor(const std::vector<Tensor>&)>& f) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(leaf(t));
  Tensor y = f(leaves);
  y.backward(gy);
  Result r{y.detach(), grad_of(leaves[0]), {}, {}};
  if (leaves.size() > 1) r.dw = grad_of(leaves[1]);
  if (leaves.size() > 2) r.db = grad_of(leaves[2]);
  return r;
}

std::vector<int64_t> all_but_channel(const Tensor& x) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) { return slimssl::matmul(a, b); }

Result conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvSpec& p, const Tensor& gy) {
  Conv2dParams cp{p.stride_h, p.stride_w, p.pad_h, p.pad_w, p.dil_h, p.dil_w, p.groups};
  return run({x, w, bias}, gy, [&](const std::vector<Tensor>& in) { return slimssl::conv2d(in[0], in[1], in[2], cp); });
}

Tensor channel_mean(const Tensor& x) { return mean(x, all_but_channel(x)); }
Tensor channel_var(const Tensor& x) { return var(x, all_but_channel(x), false); }

Result batch_norm(const Tensor& x, const Tensor& w, const Tensor& b, bool training, const Tensor& running_mean,
                  const Tensor& running_var, double eps, const Tensor& gy) {
  return run({x, w, b}, gy, [&](const std::vector<Tensor>& in) {
    Tensor rm = running_mean.defined() ? running_mean.clone() : Tensor();
    Tensor rv = running_var.defined() ? running_var.clone() : Tensor();
    return slimssl::batch_norm(in[0], in[1], in[2], rm, rv, training, 0.1, eps);
  });
}

Tensor row_mean(const Tensor& x) { return mean(x, {1}); }
Tensor row_invstd(const Tensor& x, double eps) { return rsqrt(add(var(x, {1}, false), eps)); }

Result layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps, const Tensor& gy) {
  return run({x, w, b}, gy,
             [&](const std::vector<Tensor>& in) { return slimssl::layer_norm(in[0], in[1], in[2], 1, eps); });
}

Result max_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& gy) {
  return run({x}, gy, [&](const std::vector<Tensor>& in) { return slimssl::max_pool2d(in[0], kernel, stride, pad); });
}

Result avg_pool2d(const Tensor& x, int64_t kernel, int64_t stride, int64_t pad, const Tensor& gy) {
  return run({x}, gy, [&](const std::vector<Tensor>& in) { return slimssl::avg_pool2d(in[0], kernel, stride, pad); });
}

Result adaptive_avg_pool2d(const Tensor& x, int64_t oh, int64_t ow, const Tensor& gy) {
  return run({x}, gy, [&](const std::vector<Tensor>& in) { return slimssl::adaptive_avg_pool2d(in[0], oh, ow); });
}

}  // namespace slimssl::cuda_nn_ref
