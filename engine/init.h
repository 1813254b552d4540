// Parameter initializers. Each writes in place (under NoGradGuard, not recorded by autograd) and
// works on any view: only the view's elements change, so a slice of a weight can be filled alone.
//
// Random fills are deterministic functions of (seed, stream, element): element i of the view (in
// logical row-major order) draws from its own Philox stream keyed by the seed, counted by
// (stream, i). The result is the same for any thread count, device, or layout of the view, and one
// tensor's values do not depend on which other tensors were initialized before it; a model gives
// each parameter its own stream id.
#pragma once
#include <cstdint>
#include "engine/tensor.h"

namespace slimssl::init {

// PyTorch's fans: a weight [out, in, *kernel] has fan_in = in * prod(kernel) and
// fan_out = out * prod(kernel). Needs rank >= 2.
struct Fans {
  double in = 0, out = 0;
};
Fans fans(const Shape& shape);

enum class FanMode { FanIn, FanOut };
enum class Nonlinearity { Linear, Sigmoid, Tanh, ReLU, LeakyReLU };

// The recommended gain (PyTorch's calculate_gain): 1 for linear/sigmoid, 5/3 for tanh, sqrt(2) for
// relu, sqrt(2 / (1 + slope^2)) for leaky relu.
double gain(Nonlinearity nl, double negative_slope = 0.01);

void zeros(const Tensor& t);
void ones(const Tensor& t);
void constant(const Tensor& t, double value);

// Uniform on [lo, hi).
void uniform(const Tensor& t, double lo, double hi, uint64_t seed, uint64_t stream);
void normal(const Tensor& t, double mean, double std, uint64_t seed, uint64_t stream);
// Normal(mean, std) conditioned on [lo, hi] (absolute bounds, as torch.nn.init.trunc_normal_),
// drawn by inverting the CDF, so every element costs the same whatever the bounds.
void trunc_normal(const Tensor& t, double mean, double std, double lo, double hi, uint64_t seed,
                  uint64_t stream);

// He et al. 2015: normal with std = gain / sqrt(fan), or uniform on +-gain * sqrt(3 / fan).
// `negative_slope` is only used by LeakyReLU.
void kaiming_normal(const Tensor& t, FanMode mode, Nonlinearity nl, uint64_t seed, uint64_t stream,
                    double negative_slope = 0.01);
void kaiming_uniform(const Tensor& t, FanMode mode, Nonlinearity nl, uint64_t seed, uint64_t stream,
                     double negative_slope = 0.01);

}  // namespace slimssl::init
