// Elementwise arithmetic with broadcasting, and the unary math functions: fronts over the
// backend's unary/binary primitives (formulas in base/scalar_ops.h).
#include "engine/ops.h"
#include "engine/pointwise.h"

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

void check_float(const char* op, const Tensor& t) {
  SLIMSSL_CHECK(t.defined(), op, ": undefined tensor argument");
  SLIMSSL_CHECK(is_floating(t.dtype()), op, ": expected a floating-point tensor, got ", dtype_name(t.dtype()),
                " of shape ", shape_str(t.shape()));
}

Tensor map_binary(const char* name, BinaryOp op, const Tensor& x, const Tensor& y, double alpha) {
  check_same(name, x, y);
  check_float(name, x);
  Shape shape = broadcast_shapes(x.shape(), y.shape(), name);
  Tensor out = shape == x.shape() ? empty_like_layout(x) : Tensor::empty(shape, x.dtype(), x.device());
  backend_of(x).binary(op, x.detach().expand(shape), y.detach().expand(shape), out, alpha);
  return out;
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
Tensor unary(const char* name, UnaryOp op, const Tensor& x, double a = 0, double b = 0) {
  check_float(name, x);
  return map_unary(op, x, a, b);
}
}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("add", BinaryOp::Add, a, b);
  return record("add", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(g, sa));
    if (s.needs(1)) s.add(1, sum_to(g, sb));
  });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("sub", BinaryOp::Sub, a, b);
  return record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(g, sa));
    if (s.needs(1)) s.add(1, sum_to(neg(g), sb));
  });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("mul", BinaryOp::Mul, a, b);
  return record("mul", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(mul(g, b_), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(mul(g, a_), b_.shape()));
  });
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("div", BinaryOp::Div, a, b);
  return record("div", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    if (s.needs(0)) s.add(0, sum_to(div(g, b_), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(neg(div(mul(g, a_), mul(b_, b_))), b_.shape()));
  });
}

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("maximum", BinaryOp::Maximum, a, b);
  return record("maximum", out, {a, b}, [a_ = a.detach(), b_ = b.detach()](const Tensor& g, GradSink& s) {
    Tensor mask = map_binary("maximum", BinaryOp::GreaterEq, a_, b_);  // 1 where a wins (ties to a)
    if (s.needs(0)) s.add(0, sum_to(mul(g, mask), a_.shape()));
    if (s.needs(1)) s.add(1, sum_to(mul(g, rsub(1.0, mask)), b_.shape()));
  });
}

Tensor add(const Tensor& a, double c) {
  Tensor out = unary("add", UnaryOp::AddScalar, a, c);
  return record("add_scalar", out, {a}, [](const Tensor& g, GradSink& s) { s.add(0, g); });
}

Tensor mul(const Tensor& a, double c) {
  Tensor out = unary("mul", UnaryOp::MulScalar, a, c);
  return record("mul_scalar", out, {a}, [c](const Tensor& g, GradSink& s) { s.add(0, mul(g, c)); });
}

Tensor rsub(double c, const Tensor& b) {
  Tensor out = unary("rsub", UnaryOp::RSub, b, c);
  return record("rsub", out, {b}, [](const Tensor& g, GradSink& s) { s.add(0, neg(g)); });
}

Tensor neg(const Tensor& a) {
  Tensor out = unary("neg", UnaryOp::Neg, a);
  return record("neg", out, {a}, [](const Tensor& g, GradSink& s) { s.add(0, neg(g)); });
}

Tensor pow(const Tensor& a, double e) {
  Tensor out = unary("pow", UnaryOp::Pow, a, e);
  return record("pow", out, {a}, [a_ = a.detach(), e](const Tensor& g, GradSink& s) {
    s.add(0, mul(g, mul(pow(a_, e - 1.0), e)));
  });
}

Tensor exp(const Tensor& a) {
  Tensor out = unary("exp", UnaryOp::Exp, a);
  return record("exp", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) { s.add(0, mul(g, y)); });
}

Tensor log(const Tensor& a) {
  Tensor out = unary("log", UnaryOp::Log, a);
  return record("log", out, {a}, [a_ = a.detach()](const Tensor& g, GradSink& s) { s.add(0, div(g, a_)); });
}

Tensor sqrt(const Tensor& a) {
  Tensor out = unary("sqrt", UnaryOp::Sqrt, a);
  return record("sqrt", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, div(mul(g, 0.5), y));
  });
}

Tensor rsqrt(const Tensor& a) {
  Tensor out = unary("rsqrt", UnaryOp::Rsqrt, a);
  return record("rsqrt", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, mul(mul(g, pow(y, 3.0)), -0.5));  // d/dx x^-1/2 = -1/2 x^-3/2
  });
}

Tensor abs(const Tensor& a) {
  Tensor out = unary("abs", UnaryOp::Abs, a);
  return record("abs", out, {a}, [a_ = a.detach()](const Tensor& g, GradSink& s) {
    s.add(0, mul(g, map_unary(UnaryOp::Sign, a_)));
  });
}

Tensor clamp(const Tensor& a, double lo, double hi) {
  SLIMSSL_CHECK(lo <= hi, "clamp: lower bound ", lo, " is above upper bound ", hi);
  Tensor out = unary("clamp", UnaryOp::Clamp, a, lo, hi);
  return record("clamp", out, {a}, [a_ = a.detach(), lo, hi](const Tensor& g, GradSink& s) {
    s.add(0, mul(g, map_unary(UnaryOp::InRange, a_, lo, hi)));
  });
}

Tensor reciprocal(const Tensor& a) {
  Tensor out = unary("reciprocal", UnaryOp::Reciprocal, a);
  return record("reciprocal", out, {a}, [y = out.detach()](const Tensor& g, GradSink& s) {
    s.add(0, neg(mul(g, mul(y, y))));
  });
}

}  // namespace slimssl
