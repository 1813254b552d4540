// The pointwise formulas of the engine, written once for every backend: the CPU reference loops
// and the CUDA elementwise kernels both call unary_op / binary_op, so two backends can differ only
// in how they walk the elements (strides, threads, vector width), never in what they compute.
//
// T is the compute type (float for float32 and bfloat16 data, double for float64). Definitions
// follow PyTorch's, including its derivative at the kinks: relu'(0) = 0, relu6' and hardsigmoid'
// are 0 on the closed boundary, hardswish'(+-3) takes the inner branch.
#pragma once
#include <cmath>
#include <cstdint>
#include "base/hd.h"

namespace slimssl {

// out = f(x; a, b). a and b are the op's scalar parameters where it has any.
enum class UnaryOp : uint8_t {
  Neg, Exp, Log, Sqrt, Rsqrt, Abs, Sign, Reciprocal,
  Relu, Relu6, HardSwish, HardSigmoid, Sigmoid, Silu, Tanh, GeluErf, GeluTanh,
  AddScalar,  // x + a
  MulScalar,  // x * a
  RSub,       // a - x
  Pow,        // x ^ a
  Clamp,      // min(max(x, a), b)
  InRange,    // a <= x <= b ? 1 : 0
  Greater,    // x > a ? 1 : 0
  GreaterEq,  // x >= a ? 1 : 0
};

// out = f(x, y; alpha). The *Backward ops are activation derivatives: x is the incoming gradient,
// y the saved tensor (the activation's input, or its output where named so), out = x * f'(y).
enum class BinaryOp : uint8_t {
  Add,        // x + alpha * y
  Sub,        // x - y
  Mul, Div,
  Maximum,    // x >= y ? x : y (ties to x)
  GreaterEq,  // x >= y ? 1 : 0
  ReluBackward, Relu6Backward, HardSwishBackward, HardSigmoidBackward,
  SigmoidBackwardFromOutput, SiluBackward, TanhBackwardFromOutput, GeluErfBackward, GeluTanhBackward,
};

namespace math {
// Device code calls CUDA's float/double overloads, host code <cmath>'s; the emulated device is
// host code.
#if defined(__CUDA_ARCH__)
SLIMSSL_HD float exp(float x) { return ::expf(x); }
SLIMSSL_HD double exp(double x) { return ::exp(x); }
SLIMSSL_HD float log(float x) { return ::logf(x); }
SLIMSSL_HD double log(double x) { return ::log(x); }
SLIMSSL_HD float sqrt(float x) { return ::sqrtf(x); }
SLIMSSL_HD double sqrt(double x) { return ::sqrt(x); }
SLIMSSL_HD float tanh(float x) { return ::tanhf(x); }
SLIMSSL_HD double tanh(double x) { return ::tanh(x); }
SLIMSSL_HD float erf(float x) { return ::erff(x); }
SLIMSSL_HD double erf(double x) { return ::erf(x); }
SLIMSSL_HD float pow(float x, float e) { return ::powf(x, e); }
SLIMSSL_HD double pow(double x, double e) { return ::pow(x, e); }
SLIMSSL_HD float abs(float x) { return ::fabsf(x); }
SLIMSSL_HD double abs(double x) { return ::fabs(x); }
#else
template <class T> inline T exp(T x) { return std::exp(x); }
template <class T> inline T log(T x) { return std::log(x); }
template <class T> inline T sqrt(T x) { return std::sqrt(x); }
template <class T> inline T tanh(T x) { return std::tanh(x); }
template <class T> inline T erf(T x) { return std::erf(x); }
template <class T> inline T pow(T x, T e) { return std::pow(x, e); }
template <class T> inline T abs(T x) { return std::abs(x); }
#endif

// sigmoid without overflow: exp is only ever taken of a non-positive number.
template <class T>
SLIMSSL_HD T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + exp(-x));
  T e = exp(x);
  return e / (T(1) + e);
}

constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1 / sqrt(2 pi)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;
}  // namespace math

template <class T>
SLIMSSL_HD T unary_op(UnaryOp op, T x, T a, T b) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return math::exp(x);
    case UnaryOp::Log: return math::log(x);
    case UnaryOp::Sqrt: return math::sqrt(x);
    case UnaryOp::Rsqrt: return T(1) / math::sqrt(x);
    case UnaryOp::Abs: return math::abs(x);
    case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
    case UnaryOp::Reciprocal: return T(1) / x;
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Relu6: return x < T(0) ? T(0) : x > T(6) ? T(6) : x;
    case UnaryOp::HardSwish: return x <= T(-3) ? T(0) : x >= T(3) ? x : x * (x + T(3)) / T(6);
    case UnaryOp::HardSigmoid: return x <= T(-3) ? T(0) : x >= T(3) ? T(1) : x / T(6) + T(0.5);
    case UnaryOp::Sigmoid: return math::sigmoid(x);
    case UnaryOp::Silu: return x * math::sigmoid(x);
    case UnaryOp::Tanh: return math::tanh(x);
    case UnaryOp::GeluErf: return T(0.5) * x * (T(1) + math::erf(x * T(math::kInvSqrt2)));
    case UnaryOp::GeluTanh: {
      T u = T(math::kSqrt2OverPi) * (x + T(math::kGeluCubic) * x * x * x);
      return T(0.5) * x * (T(1) + math::tanh(u));
    }
    case UnaryOp::AddScalar: return x + a;
    case UnaryOp::MulScalar: return x * a;
    case UnaryOp::RSub: return a - x;
    case UnaryOp::Pow: return math::pow(x, a);
    case UnaryOp::Clamp: return x < a ? a : x > b ? b : x;
    case UnaryOp::InRange: return T(x >= a && x <= b);
    case UnaryOp::Greater: return T(x > a);
    case UnaryOp::GreaterEq: return T(x >= a);
  }
  return x;
}

template <class T>
SLIMSSL_HD T binary_op(BinaryOp op, T x, T y, T alpha) {
  switch (op) {
    case BinaryOp::Add: return x + alpha * y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
    case BinaryOp::Maximum: return x >= y ? x : y;
    case BinaryOp::GreaterEq: return T(x >= y);
    case BinaryOp::ReluBackward: return y > T(0) ? x : T(0);
    case BinaryOp::Relu6Backward: return y > T(0) && y < T(6) ? x : T(0);
    case BinaryOp::HardSwishBackward:
      return x * (y < T(-3) ? T(0) : y <= T(3) ? y / T(3) + T(0.5) : T(1));
    case BinaryOp::HardSigmoidBackward: return y > T(-3) && y < T(3) ? x / T(6) : T(0);
    case BinaryOp::SigmoidBackwardFromOutput: return x * y * (T(1) - y);
    case BinaryOp::SiluBackward: {
      T s = math::sigmoid(y);
      return x * s * (T(1) + y * (T(1) - s));
    }
    case BinaryOp::TanhBackwardFromOutput: return x * (T(1) - y * y);
    case BinaryOp::GeluErfBackward: {
      // d/dx x Phi(x) = Phi(x) + x phi(x)
      T cdf = T(0.5) * (T(1) + math::erf(y * T(math::kInvSqrt2)));
      T pdf = T(math::kInvSqrt2Pi) * math::exp(T(-0.5) * y * y);
      return x * (cdf + y * pdf);
    }
    case BinaryOp::GeluTanhBackward: {
      T u = T(math::kSqrt2OverPi) * (y + T(math::kGeluCubic) * y * y * y);
      T t = math::tanh(u);
      T du = T(math::kSqrt2OverPi) * (T(1) + T(3 * math::kGeluCubic) * y * y);
      return x * (T(0.5) * (T(1) + t) + T(0.5) * y * (T(1) - t * t) * du);
    }
  }
  return x;
}

}  // namespace slimssl
