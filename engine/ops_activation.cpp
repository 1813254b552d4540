// Pointwise activations, with PyTorch's definitions (base/scalar_ops.h holds the formulas and
// their derivatives, kinks included). Forward is one unary map over x; backward one binary map
// of (grad, saved), the saved tensor being the input or the output, whichever the derivative is
// cheaper to write in.
#include "engine/ops.h"
#include "engine/pointwise.h"

namespace slimssl {
namespace {

Tensor activation(const char* name, UnaryOp f, BinaryOp df, bool save_output, const Tensor& x) {
  check_float(name, x);
  Tensor out = map_unary(f, x);
  Tensor saved = save_output ? out.detach() : x.detach();
  return record(name, out, {x}, [name, df, saved](const Tensor& g, GradSink& sink) {
    sink.add(0, map_binary(name, df, g, saved));
  });
}

}  // namespace

Tensor relu(const Tensor& x) { return activation("relu", UnaryOp::Relu, BinaryOp::ReluBackward, false, x); }
Tensor relu6(const Tensor& x) { return activation("relu6", UnaryOp::Relu6, BinaryOp::Relu6Backward, false, x); }
Tensor hardswish(const Tensor& x) {
  return activation("hardswish", UnaryOp::HardSwish, BinaryOp::HardSwishBackward, false, x);
}
Tensor hardsigmoid(const Tensor& x) {
  return activation("hardsigmoid", UnaryOp::HardSigmoid, BinaryOp::HardSigmoidBackward, false, x);
}
Tensor sigmoid(const Tensor& x) {
  return activation("sigmoid", UnaryOp::Sigmoid, BinaryOp::SigmoidBackwardFromOutput, true, x);
}
Tensor silu(const Tensor& x) { return activation("silu", UnaryOp::Silu, BinaryOp::SiluBackward, false, x); }
Tensor tanh(const Tensor& x) { return activation("tanh", UnaryOp::Tanh, BinaryOp::TanhBackwardFromOutput, true, x); }
Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::Erf) return activation("gelu", UnaryOp::GeluErf, BinaryOp::GeluErfBackward, false, x);
  return activation("gelu_tanh", UnaryOp::GeluTanh, BinaryOp::GeluTanhBackward, false, x);
}

}  // namespace slimssl
