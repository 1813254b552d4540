#include "engine/init.h"
#include <algorithm>
#include <cmath>
#include <vector>
#include "engine/autograd.h"
#include "engine/rng.h"

namespace slimssl::init {
namespace {

// Initializer streams use a salted key, so they never coincide with the streams that augmentation
// and dropout key by the plain seed and (step, sample, ...) counters.
constexpr uint64_t kInitSalt = 0x696e69745f726e67ull;  // "init_rng"

// Writes the logical-order values into the view (any strides, dtype or device) without recording.
void write(const Tensor& t, const std::vector<double>& values) {
  NoGradGuard ng;
  Tensor dst = t.detach();
  dst.copy_(Tensor::from_vector(values, t.shape()));
}

// values[i] = draw(stream of element i). Each element owns its stream, so the loop can run on any
// number of threads and a draw may consume as many words as it likes.
template <class Draw>
void fill_random(const char* op, const Tensor& t, uint64_t seed, uint64_t stream, Draw draw) {
  SLIMSSL_CHECK(t.defined(), "init::", op, ": undefined tensor");
  SLIMSSL_CHECK(is_floating(t.dtype()), "init::", op, ": expected a floating tensor, got ", dtype_name(t.dtype()),
                " of shape ", shape_str(t.shape()));
  const int64_t n = t.numel();
  SLIMSSL_CHECK(n <= (int64_t(1) << 32), "init::", op, ": ", n, " elements exceed the 2^32 per-tensor counter");
  std::vector<double> values(static_cast<size_t>(n));
#pragma omp parallel for if (n > (1 << 14))
  for (int64_t i = 0; i < n; ++i) {
    RandomStream rs(seed ^ kInitSalt, static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32),
                    static_cast<uint32_t>(i));
    values[static_cast<size_t>(i)] = draw(rs);
  }
  write(t, values);
}

double normal_cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double normal_pdf(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI); }

// The x in [lo, hi] with normal_cdf(x) = p, by Newton steps kept inside a shrinking bracket
// (bisection whenever a step would leave it), so it converges for any p in [cdf(lo), cdf(hi)].
double inverse_cdf_in(double p, double lo, double hi) {
  double x = std::clamp(0.0, lo, hi);
  for (int it = 0; it < 200; ++it) {
    double f = normal_cdf(x) - p;
    if (f > 0) hi = x;
    else lo = x;
    double next = x - f / normal_pdf(x);
    if (!(next > lo && next < hi)) next = 0.5 * (lo + hi);
    if (std::abs(next - x) <= 1e-13 * (1.0 + std::abs(x))) return next;
    x = next;
  }
  return x;
}

double fan_of(const char* op, const Tensor& t, FanMode mode) {
  Fans f = fans(t.shape());
  double fan = mode == FanMode::FanIn ? f.in : f.out;
  SLIMSSL_CHECK(fan > 0, "init::", op, ": zero fan for shape ", shape_str(t.shape()));
  return fan;
}

}  // namespace

Fans fans(const Shape& shape) {
  SLIMSSL_CHECK(shape.size() >= 2, "init::fans: a weight needs rank >= 2 to have fans, got shape ",
                shape_str(shape));
  double receptive = 1;
  for (size_t d = 2; d < shape.size(); ++d) receptive *= static_cast<double>(shape[d]);
  return {static_cast<double>(shape[1]) * receptive, static_cast<double>(shape[0]) * receptive};
}

double gain(Nonlinearity nl, double negative_slope) {
  switch (nl) {
    case Nonlinearity::Linear:
    case Nonlinearity::Sigmoid: return 1.0;
    case Nonlinearity::Tanh: return 5.0 / 3.0;
    case Nonlinearity::ReLU: return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU: return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
  }
  return 1.0;
}

void constant(const Tensor& t, double value) {
  SLIMSSL_CHECK(t.defined(), "init::constant: undefined tensor");
  NoGradGuard ng;
  Tensor dst = t.detach();
  dst.fill_(value);
}
void zeros(const Tensor& t) { constant(t, 0.0); }
void ones(const Tensor& t) { constant(t, 1.0); }

void uniform(const Tensor& t, double lo, double hi, uint64_t seed, uint64_t stream) {
  SLIMSSL_CHECK(lo <= hi, "init::uniform: lo ", lo, " > hi ", hi);
  fill_random("uniform", t, seed, stream, [=](RandomStream& rs) { return lo + (hi - lo) * rs.uniform(); });
}

void normal(const Tensor& t, double mean, double std, uint64_t seed, uint64_t stream) {
  SLIMSSL_CHECK(std >= 0, "init::normal: std must be >= 0, got ", std);
  fill_random("normal", t, seed, stream, [=](RandomStream& rs) { return mean + std * rs.normal(); });
}

void trunc_normal(const Tensor& t, double mean, double std, double lo, double hi, uint64_t seed,
                  uint64_t stream) {
  SLIMSSL_CHECK(std >= 0, "init::trunc_normal: std must be >= 0, got ", std);
  SLIMSSL_CHECK(lo < hi, "init::trunc_normal: empty interval [", lo, ", ", hi, "]");
  if (std == 0) return constant(t, std::clamp(mean, lo, hi));
  // Standardized bounds, clipped where the tail mass is below double precision anyway. Sampled on
  // the side of zero with more room (mirrored when needed): the CDF is accurate in the lower tail.
  double a = std::max((lo - mean) / std, -40.0), b = std::min((hi - mean) / std, 40.0);
  const bool mirror = a + b > 0;
  if (mirror) std::swap(a, b), a = -a, b = -b;
  const double pa = normal_cdf(a), pb = normal_cdf(b);
  fill_random("trunc_normal", t, seed, stream, [=](RandomStream& rs) {
    double z = inverse_cdf_in(pa + (pb - pa) * rs.uniform(), a, b);
    return std::clamp(mean + std * (mirror ? -z : z), lo, hi);
  });
}

void kaiming_normal(const Tensor& t, FanMode mode, Nonlinearity nl, uint64_t seed, uint64_t stream,
                    double negative_slope) {
  double std = gain(nl, negative_slope) / std::sqrt(fan_of("kaiming_normal", t, mode));
  normal(t, 0.0, std, seed, stream);
}

void kaiming_uniform(const Tensor& t, FanMode mode, Nonlinearity nl, uint64_t seed, uint64_t stream,
                     double negative_slope) {
  double bound = gain(nl, negative_slope) * std::sqrt(3.0 / fan_of("kaiming_uniform", t, mode));
  uniform(t, -bound, bound, seed, stream);
}

}  // namespace slimssl::init
