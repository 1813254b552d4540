#include "engine/autograd.h"
#include <unordered_set>
#include "engine/ops.h"
#include "engine/profile.h"

namespace slimssl {
namespace {
thread_local bool g_grad_enabled = true;

bool wants_grad(const Tensor& t) { return t.defined() && t.requires_grad(); }

void call_hooks(TensorImpl& leaf, const Tensor& contribution, const Tensor& destination) {
  for (auto& h : leaf.hooks) h(contribution, destination);
}
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = previous_; }

Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward) {
  if (!g_grad_enabled) return out;
  bool any = false;
  for (auto& t : inputs) any = any || wants_grad(t);
  if (!any) return out;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  // A fresh handle so that an op returning its input unchanged never rewires the input itself.
  auto impl = std::make_shared<TensorImpl>(out.impl());
  impl->grad = nullptr;
  impl->hooks.clear();
  impl->requires_grad = false;
  impl->grad_fn = std::move(node);
  return Tensor(impl);
}

Tensor record_region_view(const char* name, const Tensor& self, Tensor out,
                          std::function<Tensor(const Tensor&)> region) {
  Tensor base = self;
  auto& parent = self.impl().grad_fn;
  if (parent && parent->region && !parent->released) {
    base = parent->inputs[0];
    region = [outer = parent->region, inner = std::move(region)](const Tensor& b) { return inner(outer(b)); };
  }
  Tensor r = record(name, out, {base}, [region](const Tensor& g, GradSink& s) { s.add_region(0, region, g); });
  if (r.impl().grad_fn) r.impl().grad_fn->region = region;
  return r;
}

bool GradSink::needs(size_t i) const {
  return i < node_.inputs.size() && wants_grad(node_.inputs[i]);
}

Tensor& GradSink::buffer(size_t i) {
  TensorImpl* key = node_.inputs[i].impl_ptr().get();
  if (node_.inputs[i].is_leaf()) {
    // A parameter's gradient lives in .grad across backward passes (accumulation).
    if (!key->grad) key->grad = Tensor::zeros_like(node_.inputs[i].detach()).impl_ptr();
    auto it = buffers_.find(key);
    if (it == buffers_.end()) it = buffers_.emplace(key, Tensor(key->grad)).first;
    return it->second;
  }
  auto it = buffers_.find(key);
  if (it == buffers_.end()) it = buffers_.emplace(key, Tensor::zeros_like(node_.inputs[i].detach())).first;
  return it->second;
}

void GradSink::add(size_t i, const Tensor& g) {
  if (!needs(i)) return;
  const Tensor& in = node_.inputs[i];
  SLIMSSL_CHECK(g.shape() == in.shape(), "backward of ", node_.name, ": gradient for input ", i,
                " has shape ", shape_str(g.shape()), ", expected ", shape_str(in.shape()));
  TensorImpl* key = in.impl_ptr().get();
  if (!in.is_leaf() && !buffers_.count(key)) {
    // First contribution to an intermediate: keep a private copy (g may alias another buffer).
    buffers_.emplace(key, g.detach().clone());
    return;
  }
  Tensor& dst = buffer(i);
  dst.add_(g);
  if (in.is_leaf()) call_hooks(in.impl(), g, dst);
}

Tensor GradSink::destination(size_t i) {
  if (!needs(i)) return {};
  const Tensor& in = node_.inputs[i];
  Tensor leaf = in;
  std::function<Tensor(const Tensor&)> region;
  if (!in.is_leaf()) {
    const auto& view = in.impl().grad_fn;
    if (!view->region || view->released || !view->inputs[0].is_leaf()) return {};
    leaf = view->inputs[0], region = view->region;
  }
  if (!leaf.impl().hooks.empty()) return {};
  TensorImpl& impl = leaf.impl();
  if (!impl.grad) impl.grad = Tensor::zeros_like(leaf.detach()).impl_ptr();
  Tensor grad(impl.grad);
  return region ? region(grad) : grad;
}

void GradSink::add_region(size_t i, const std::function<Tensor(const Tensor&)>& region, const Tensor& g) {
  if (!needs(i)) return;
  Tensor dst = region(buffer(i));
  SLIMSSL_CHECK(dst.shape() == g.shape(), "backward of ", node_.name, ": region ",
                shape_str(dst.shape()), " does not match gradient ", shape_str(g.shape()));
  dst.add_(g);
  if (node_.inputs[i].is_leaf()) call_hooks(node_.inputs[i].impl(), g, dst);
}

void run_backward(const Tensor& root, const Tensor& seed_in, bool retain_graph) {
  SLIMSSL_CHECK(root.requires_grad(), "backward(): the tensor does not require grad and has no grad_fn");
  Tensor seed = seed_in;
  if (!seed.defined()) {
    SLIMSSL_CHECK(root.numel() == 1, "backward(): a gradient must be given for a non-scalar of shape ",
                  shape_str(root.shape()));
    seed = Tensor::ones(root.shape(), root.dtype(), root.device());
  }
  SLIMSSL_CHECK(seed.shape() == root.shape(), "backward(): gradient shape ", shape_str(seed.shape()),
                " does not match ", shape_str(root.shape()));
  NoGradGuard no_grad;
  profile::BackwardScope profiled;

  // Topological order of the tensors (by impl) reachable through grad_fn edges.
  std::vector<Tensor> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<Tensor, size_t>> stack{{root, 0}};
  seen.insert(root.impl_ptr().get());
  while (!stack.empty()) {
    auto& [t, next] = stack.back();
    Node* node = t.impl().grad_fn.get();
    if (node && node->released)
      fail("backward(): the graph through '", node->name,
           "' was already freed by an earlier backward (use retain_graph)");
    if (node && next < node->inputs.size()) {
      const Tensor& in = node->inputs[next++];
      if (wants_grad(in) && !in.is_leaf() && seen.insert(in.impl_ptr().get()).second)
        stack.push_back({in, 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }

  std::unordered_map<TensorImpl*, Tensor> buffers;
  if (root.is_leaf()) {  // backward on a parameter itself
    Tensor r = root;
    if (!r.impl().grad) r.impl().grad = Tensor::zeros_like(root.detach()).impl_ptr();
    Tensor(r.impl().grad).add_(seed);
    return;
  }
  buffers.emplace(root.impl_ptr().get(), seed.detach().contiguous());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* key = it->impl_ptr().get();
    auto found = buffers.find(key);
    std::shared_ptr<Node> node = key->grad_fn;
    if (found == buffers.end() || !node) continue;
    Tensor g = found->second;
    buffers.erase(found);  // frees intermediate gradients as soon as they are consumed
    GradSink sink(*node, buffers);
    node->backward(g, sink);
    // Leaf buffers alias .grad; drop the map entries (not the gradients) for the leaves we touched.
    if (!retain_graph) {
      node->backward = nullptr;  // frees every tensor the closure saved
      node->inputs.clear();
      node->released = true;
    }
    for (auto b = buffers.begin(); b != buffers.end();) {
      if (b->first->grad_fn == nullptr) b = buffers.erase(b);
      else ++b;
    }
  }
}

}  // namespace slimssl
