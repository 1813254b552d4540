// Define-by-run reverse-mode autograd. Every differentiable op follows one pattern:
//
//   Tensor y = <compute>;
//   return record("op", y, {a, b}, [a_ = a.detach(), ...](const Tensor& gy, GradSink& s) {
//     if (s.needs(0)) s.add(0, <grad wrt a>);
//     if (s.needs(1)) s.add(1, <grad wrt b>);
//   });
//
// Captured tensors are detached (no history) so a node never keeps its own output's graph alive;
// the closure, and with it every saved tensor, is dropped once backward has run through it.
#pragma once
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>
#include "engine/tensor.h"

namespace slimssl {

class GradSink;
using BackwardFn = std::function<void(const Tensor& grad_out, GradSink& sink)>;

struct Node {
  std::string name;
  std::vector<Tensor> inputs;  // the op's inputs, kept so the graph can be walked
  BackwardFn backward;
  bool released = false;
  // Set for region views (narrow, select): maps the base's gradient to the view's region, so a
  // view of a view is recorded directly against the first base (W[:a][:, :b] writes into W.grad).
  std::function<Tensor(const Tensor&)> region;
};

// Receives the gradients one node sends to its inputs during backward.
class GradSink {
 public:
  GradSink(Node& node, std::unordered_map<TensorImpl*, Tensor>& buffers)
      : node_(node), buffers_(buffers) {}
  // Whether input i wants a gradient at all (skip the work if not).
  bool needs(size_t i) const;
  // Adds g (the input's shape) to input i's gradient.
  void add(size_t i, const Tensor& g);
  // Adds g into region(grad of input i): how a view sends its gradient into its base. For a
  // parameter the region is a view of .grad itself, so the gradient lands there and nowhere else.
  void add_region(size_t i, const std::function<Tensor(const Tensor&)>& region, const Tensor& g);
  // Where input i's gradient may be ADDED directly: the parameter's .grad, or the region of it
  // that input i (a view of the parameter, e.g. a slimmable layer's weight slice) maps to.
  // Undefined when that is not possible (an intermediate input, or a parameter with hooks, which
  // must see every contribution): then use add(). A backward that writes its gradient into the
  // destination (its kernel accumulating in place) must not also add() it.
  Tensor destination(size_t i);

 private:
  Tensor& buffer(size_t i);
  Node& node_;
  std::unordered_map<TensorImpl*, Tensor>& buffers_;
};

// Attaches a node to `out` when grad mode is on and any input requires grad; returns `out`.
Tensor record(const char* name, Tensor out, std::vector<Tensor> inputs, BackwardFn backward);

// Records `out`, a region view of `self`, so that its gradient is added into region(grad of base).
Tensor record_region_view(const char* name, const Tensor& self, Tensor out,
                          std::function<Tensor(const Tensor&)> region);

// Runs backward from `root` (seed defaults to ones for a one-element root).
void run_backward(const Tensor& root, const Tensor& seed, bool retain_graph);

bool grad_enabled();

// Disables graph recording in a scope (evaluation, optimizer steps, EMA updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

}  // namespace slimssl
