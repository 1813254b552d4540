// Pointwise activations, with PyTorch's definitions (including its choice of derivative at the
// kinks: relu'(0) = 0, relu6' and hardsigmoid' are 0 on the closed boundary, hardswish'(+-3) takes
// the inner branch). Forward is one map over x; backward is one map over (grad, saved tensor).
#include <cmath>
#include "engine/cpu/map.h"
#include "engine/ops.h"

namespace slimssl {
namespace {

// Records a unary op whose input gradient is grad * dfdx(saved), with `saved` either the input or
// the output (whichever the derivative is cheaper to write in).
template <class D>
Tensor with_derivative(const char* name, const Tensor& x, const Tensor& out, const Tensor& saved, D dfdx) {
  return record(name, out, {x}, [name, s_ = saved.detach(), dfdx](const Tensor& g, GradSink& sink) {
    sink.add(0, cpu::binary_map(name, g, s_, g.shape(), [dfdx](auto gv, auto v) { return gv * dfdx(v); }));
  });
}

// sigmoid without overflow: exp is only ever taken of a non-positive number.
template <class T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  T e = std::exp(x);
  return e / (T(1) + e);
}

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

}  // namespace

Tensor relu(const Tensor& x) {
  Tensor out = cpu::unary_map("relu", x, [](auto v) { return v > 0 ? v : decltype(v)(0); });
  return with_derivative("relu", x, out, x, [](auto v) { return decltype(v)(v > 0); });
}

Tensor relu6(const Tensor& x) {
  Tensor out = cpu::unary_map("relu6", x, [](auto v) {
    using T = decltype(v);
    return std::min(std::max(v, T(0)), T(6));
  });
  return with_derivative("relu6", x, out, x, [](auto v) { return decltype(v)(v > 0 && v < 6); });
}

Tensor hardsigmoid(const Tensor& x) {
  Tensor out = cpu::unary_map("hardsigmoid", x, [](auto v) {
    using T = decltype(v);
    return v <= T(-3) ? T(0) : v >= T(3) ? T(1) : v / T(6) + T(0.5);
  });
  return with_derivative("hardsigmoid", x, out, x, [](auto v) {
    using T = decltype(v);
    return v > T(-3) && v < T(3) ? T(1) / T(6) : T(0);
  });
}

Tensor hardswish(const Tensor& x) {
  Tensor out = cpu::unary_map("hardswish", x, [](auto v) {
    using T = decltype(v);
    return v <= T(-3) ? T(0) : v >= T(3) ? v : v * (v + T(3)) / T(6);
  });
  return with_derivative("hardswish", x, out, x, [](auto v) {
    using T = decltype(v);
    return v < T(-3) ? T(0) : v <= T(3) ? v / T(3) + T(0.5) : T(1);
  });
}

Tensor sigmoid(const Tensor& x) {
  Tensor out = cpu::unary_map("sigmoid", x, [](auto v) { return stable_sigmoid(v); });
  return with_derivative("sigmoid", x, out, out, [](auto y) { return y * (decltype(y)(1) - y); });
}

Tensor silu(const Tensor& x) {
  Tensor out = cpu::unary_map("silu", x, [](auto v) { return v * stable_sigmoid(v); });
  return with_derivative("silu", x, out, x, [](auto v) {
    using T = decltype(v);
    T s = stable_sigmoid(v);
    return s * (T(1) + v * (T(1) - s));
  });
}

Tensor tanh(const Tensor& x) {
  Tensor out = cpu::unary_map("tanh", x, [](auto v) { return std::tanh(v); });
  return with_derivative("tanh", x, out, out, [](auto y) { return decltype(y)(1) - y * y; });
}

Tensor gelu(const Tensor& x, GeluApprox approx) {
  if (approx == GeluApprox::Erf) {
    // x * Phi(x), Phi the standard normal CDF; d/dx = Phi(x) + x * phi(x).
    Tensor out = cpu::unary_map("gelu", x, [](auto v) {
      using T = decltype(v);
      return T(0.5) * v * (T(1) + std::erf(v * T(kInvSqrt2)));
    });
    return with_derivative("gelu", x, out, x, [](auto v) {
      using T = decltype(v);
      T cdf = T(0.5) * (T(1) + std::erf(v * T(kInvSqrt2)));
      T pdf = T(kInvSqrt2Pi) * std::exp(T(-0.5) * v * v);
      return cdf + v * pdf;
    });
  }
  // 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3).
  Tensor out = cpu::unary_map("gelu", x, [](auto v) {
    using T = decltype(v);
    T u = T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v);
    return T(0.5) * v * (T(1) + std::tanh(u));
  });
  return with_derivative("gelu_tanh", x, out, x, [](auto v) {
    using T = decltype(v);
    T u = T(kSqrt2OverPi) * (v + T(kGeluCubic) * v * v * v);
    T t = std::tanh(u);
    T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCubic) * v * v);
    return T(0.5) * (T(1) + t) + T(0.5) * v * (T(1) - t * t) * du;
  });
}

}  // namespace slimssl
