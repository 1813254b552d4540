// Elementwise arithmetic with broadcasting, and the unary math functions.
#include <cmath>
#include "engine/cpu/map.h"
#include "engine/ops.h"

namespace slimssl {

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    SLIMSSL_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
                  " cannot be broadcast together");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void check_same(const char* op, const Tensor& a, const Tensor& b, bool same_dtype) {
  SLIMSSL_CHECK(a.defined() && b.defined(), op, ": undefined tensor argument");
  SLIMSSL_CHECK(a.device() == b.device(), op, ": tensors on different devices (", a.device().str(), " and ",
                b.device().str(), "), shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  SLIMSSL_CHECK(!same_dtype || a.dtype() == b.dtype(), op, ": dtype mismatch (", dtype_name(a.dtype()), " and ",
                dtype_name(b.dtype()), "), shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()));
}

void require_cpu(const char* op, const Tensor& t) {
  SLIMSSL_CHECK(t.defined(), op, ": undefined tensor argument");
  SLIMSSL_CHECK(t.device().is_cpu(), op, ": no kernel for ", t.device().str(), " yet (tensor of shape ",
                shape_str(t.shape()), ")");
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  SLIMSSL_CHECK(lead >= 0, "sum_to: cannot reduce ", shape_str(g.shape()), " to ", shape_str(shape));
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < g.dim(); ++d)
    if (d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)) dims.push_back(d);
  Tensor r = dims.empty() ? g : sum(g, dims, true);
  return r.reshape(shape);
}

namespace {
template <class F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, F&& f) {
  check_same(op, a, b);
  return cpu::binary_map(op, a, b, broadcast_shapes(a.shape(), b.shape(), op), f);
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = binary("add", a, b, [](auto x, auto y) { return x + y; });
  return record("add", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(g, sa));
    if (s.needs(1)) s.add(1, sum_to(g, sb));
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = binary("sub", a, b, [](auto x, auto y) { return x - y; });
  return record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(g, sa));
    if (s.needs(1)) s.add(1, sum_to(neg(g), sb));
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = binary("mul", a, b, [](auto x, auto y) { return x * y; });
  return record("mul", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(mul(g, b_), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(mul(g, a_), b_.shape()));
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = binary("div", a, b, [](auto x, auto y) { return x / y; });
  return record("div", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(div(g, b_), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(neg(div(mul(g, a_), mul(b_, b_))), b_.shape()));
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = binary("maximum", a, b, [](auto x, auto y) { return x >= y ? x : y; });
  return record("maximum", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    Shape shape = g.shape();
    Tensor mask = cpu::binary_map("maximum", a_, b_, shape, [](auto x, auto y) { return decltype(x)(x >= y); });
    if (s.needs(0)) s.add(0, sum_to(mul(g, mask), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(mul(g, rsub(1.0, mask)), b_.shape()));
  });
}

Tensor add(const Tensor& a, double c) {
  Tensor out = cpu::unary_map("add", a, [c](auto x) { return x + decltype(x)(c); });
  return record("add_scalar", out, {a}, [](const Tensor& g, GradSink& s) { s.add(0, g); });
}

Tensor mul(const Tensor& a, double c) {
  Tensor out = cpu::unary_map("mul", a, [c](auto x) { return x * decltype(x)(c); });
  return record("mul_scalar", out, {a}, [c](const Tensor& g, GradSink& s) { s.add(0, mul(g, c)); });
}

Tensor rsub(double c, const Tensor& b) {
  Tensor out = cpu::unary_map("rsub", b, [c](auto x) { return decltype(x)(c) - x; });
  return record("rsub", out, {b}, [](const Tensor& g, GradSink& s) { s.add(0, neg(g)); });
}

Tensor neg(const Tensor& a) {
  Tensor out = cpu::unary_map("neg", a, [](auto x) { return -x; });
  return record("neg", out, {a}, [](const Tensor& g, GradSink& s) { s.add(0, neg(g)); });
}

Tensor pow(const Tensor& a, double e) {
  Tensor out = cpu::unary_map("pow", a, [e](auto x) { return decltype(x)(std::pow(x, e)); });
  return record("pow", out, {a}, [a_ = a.detach(), e](const Tensor& g, GradSink& s) {
    s.add(0, mul(g, mul(pow(a_, e - 1.0), e)));
  });
}

Tensor exp(const Tensor& a) {
  Tensor out = cpu::unary_map("exp", a, [](auto x) { return std::exp(x); });
  return record("exp", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) { s.add(0, mul(g, y)); });
}

Tensor log(const Tensor& a) {
  Tensor out = cpu::unary_map("log", a, [](auto x) { return std::log(x); });
  return record("log", out, {a}, [a_ = a.detach()](const Tensor& g, GradSink& s) { s.add(0, div(g, a_)); });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = cpu::unary_map("sqrt", a, [](auto x) { return std::sqrt(x); });
  return record("sqrt", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, div(mul(g, 0.5), y));
  });
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = cpu::unary_map("rsqrt", a, [](auto x) { return decltype(x)(1) / std::sqrt(x); });
  return record("rsqrt", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, mul(mul(g, pow(y, 3.0)), -0.5));  // d/dx x^-1/2 = -1/2 x^-3/2
  });
}

Tensor abs(const Tensor& a) {
  Tensor out = cpu::unary_map("abs", a, [](auto x) { return std::abs(x); });
  return record("abs", out, {a}, [a_ = a.detach()](const Tensor& g, GradSink& s) {
    Tensor sign = cpu::unary_map("abs", a_, [](auto x) { return decltype(x)((x > 0) - (x < 0)); });
    s.add(0, mul(g, sign));
  });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  SLIMSSL_CHECK(lo <= hi, "clamp: lower bound ", lo, " is above upper bound ", hi);
  Tensor out = cpu::unary_map("clamp", a, [lo, hi](auto x) {
    using T = decltype(x);
    return std::min(std::max(x, T(lo)), T(hi));
  });
  return record("clamp", out, {a}, [a_ = a.detach(), lo, hi](const Tensor& g, GradSink& s) {
    Tensor inside = cpu::unary_map("clamp", a_, [lo, hi](auto x) { return decltype(x)(x >= lo && x <= hi); });
    s.add(0, mul(g, inside));
  });
}

Tensor reciprocal(const Tensor& a) {
  Tensor out = cpu::unary_map("reciprocal", a, [](auto x) { return decltype(x)(1) / x; });
  return record("reciprocal", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, neg(mul(g, mul(y, y))));
  });
}

}  // namespace slimssl
