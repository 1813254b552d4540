#include "engine/flat_parameters.h"
#include <map>
#include <set>

namespace slimssl {
namespace {
constexpr int64_t kAlign = 64;  // elements
int64_t aligned(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
}  // namespace

FlatParameters::FlatParameters(const std::vector<Tensor>& params) {
  std::map<DType, std::vector<Tensor>> by_dtype;
  std::set<TensorImpl*> seen;
  for (const Tensor& p : params) {
    SLIMSSL_CHECK(p.defined() && p.is_leaf(), "FlatParameters: every parameter must be a defined leaf tensor");
    SLIMSSL_CHECK(p.device() == params[0].device(), "FlatParameters: parameters on ", params[0].device().str(),
                  " and ", p.device().str());
    SLIMSSL_CHECK(seen.insert(p.impl_ptr().get()).second, "FlatParameters: parameter '", p.name(),
                  "' is listed twice");
    by_dtype[p.dtype()].push_back(p);
  }
  for (auto& [dtype, list] : by_dtype) {
    Group g;
    g.dtype = dtype;
    int64_t total = 0;
    for (const Tensor& p : list) g.slots.push_back({p, total}), total += aligned(p.numel());
    const Device device = list[0].device();
    g.values = Tensor::zeros({total}, dtype, device);
    g.grads = Tensor::zeros({total}, dtype, device);
    for (Slot& s : g.slots) {
      Tensor value = g.values.narrow(0, s.offset, s.param.numel()).view(s.param.shape());
      value.copy_(s.param.detach());
      Tensor grad = g.grads.narrow(0, s.offset, s.param.numel()).view(s.param.shape());
      if (s.param.grad().defined()) grad.copy_(s.param.grad());
      s.param.set_data(value);
      s.param.pin_grad(grad);
    }
    groups_.push_back(std::move(g));
  }
}

void FlatParameters::zero_grad() {
  for (Group& g : groups_) g.grads.zero_();
}

}  // namespace slimssl
