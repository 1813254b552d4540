#include "gradcheck.h"
#include <cmath>
#include <random>
#include <sstream>

namespace slimssl::testing {

Tensor randu(const Shape& shape, uint64_t seed, double lo, double hi, DType dtype) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(numel_of(shape));
  for (auto& x : v) x = u(gen);
  Tensor t = Tensor::from_vector(v, shape);
  return dtype == DType::F64 ? t : t.to(dtype);
}

Tensor noncontiguous(const Tensor& t, std::optional<Device> device) {
  const Device dev = device.value_or(t.device());
  if (t.dim() == 0) return t.detach().to(dev).clone().detach();
  // Every element sits two apart along the last dimension (stride 2), one past a poison value: a
  // kernel that ignores strides reads 1e30s.
  Shape big = t.shape();
  big.back() = big.back() * 2 + 1;
  Tensor buf = Tensor::full(big, 1e30, t.dtype(), dev);
  Shape strides = buf.strides();
  strides.back() = 2;
  Tensor v = buf.as_strided(t.shape(), strides, 1);
  v.copy_(t.detach());
  return v;
}

double max_violation(const Tensor& a, const Tensor& b, double rtol) {
  Tensor x = a.detach().to(DType::F64).contiguous(), y = b.detach().to(DType::F64).contiguous();
  if (x.shape() != y.shape()) return INFINITY;
  auto va = x.to_vector<double>(), vb = y.to_vector<double>();
  double worst = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    double d = std::abs(va[i] - vb[i]) - rtol * std::abs(vb[i]);
    if (std::isnan(va[i]) != std::isnan(vb[i])) d = INFINITY;
    worst = std::max(worst, d);
  }
  return worst;
}

bool allclose(const Tensor& a, const Tensor& b, double atol, double rtol) {
  return max_violation(a, b, rtol) <= atol;
}

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double atol, double rtol) {
  GradcheckResult res;
  Tensor probe;
  {
    NoGradGuard ng;
    probe = f(inputs);
  }
  Tensor weights = randu(probe.shape(), 12345, 0.5, 1.5, probe.dtype());
  auto objective = [&](const std::vector<Tensor>& in) { return sum(mul(f(in), weights)); };

  for (auto& x : inputs) if (x.requires_grad()) x.zero_grad();
  objective(inputs).backward();

  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.requires_grad()) continue;
    Tensor analytic = x.grad();
    if (!analytic.defined()) analytic = Tensor::zeros_like(x);
    Tensor numeric = Tensor::zeros(x.shape(), DType::F64);
    double* nd = numeric.data<double>();
    double* xd = static_cast<double*>(x.storage()->data);
    NoGradGuard ng;
    for (int64_t e = 0; e < x.numel(); ++e) {
      int64_t off = x.offset(), lin = e;
      for (int64_t d = x.dim() - 1; d >= 0; --d) {
        off += (lin % x.size(d)) * x.stride(d);
        lin /= x.size(d);
      }
      double saved = xd[off];
      xd[off] = saved + eps;
      double up = objective(inputs).item();
      xd[off] = saved - eps;
      double down = objective(inputs).item();
      xd[off] = saved;
      nd[e] = (up - down) / (2 * eps);
    }
    double v = max_violation(analytic, numeric, rtol);
    if (!(v <= atol)) {
      std::ostringstream os;
      os << "input " << i << " " << shape_str(x.shape()) << ": analytic vs numeric differ by " << v
         << "\nanalytic " << analytic.str(8) << "\nnumeric  " << numeric.str(8);
      res.ok = false;
      res.message += os.str() + "\n";
    }
  }
  return res;
}

}  // namespace slimssl::testing
