// Every op of engine/ops.h (except conv/pool/norm/dropout, tested in their own suites) as one
// table: each case names its inputs' shapes, builds the
// op, and gives a naive reference computed with plain loops over double values. Each case is run
//   - contiguous and non-contiguous (every float input a strided view of a poisoned buffer),
//   - forward in float64 and float32 against the reference,
//   - backward against central finite differences in float64.
// Broadcasting is covered by cases whose shapes differ. A failure names the case and the mode.
#include <catch2/catch.hpp>
#include <cmath>
#include <numbers>
#include <sstream>
#include "gpu_gate.h"
#include "gradcheck.h"

using namespace slimssl;
using namespace slimssl::testing;

namespace {

// ---------------------------------------------------------------------------------------------
// A plain row-major n-d array of doubles: what the references compute on. Deliberately shares
// no code with the engine (no strides, no views, no broadcasting helpers).
struct Nd {
  Shape shape;
  std::vector<double> v;
};

int64_t count(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

std::vector<int64_t> unravel(int64_t lin, const Shape& s) {
  std::vector<int64_t> c(s.size());
  for (int64_t d = static_cast<int64_t>(s.size()) - 1; d >= 0; --d) {
    c[d] = lin % s[d];
    lin /= s[d];
  }
  return c;
}

int64_t ravel(const std::vector<int64_t>& c, const Shape& s) {
  int64_t lin = 0;
  for (size_t d = 0; d < s.size(); ++d) lin = lin * s[d] + c[d];
  return lin;
}

double at(const Nd& x, const std::vector<int64_t>& c) { return x.v[ravel(c, x.shape)]; }

Nd host(const Tensor& t) { return {t.shape(), t.to_vector<double>()}; }

// Builds an array of `shape` by asking f for the value at each coordinate.
Nd build(const Shape& shape, const std::function<double(const std::vector<int64_t>&)>& f) {
  Nd out{shape, std::vector<double>(count(shape))};
  for (int64_t i = 0; i < count(shape); ++i) out.v[i] = f(unravel(i, shape));
  return out;
}

Nd map1(const Nd& x, const std::function<double(double)>& f) {
  Nd out = x;
  for (auto& e : out.v) e = f(e);
  return out;
}

// NumPy broadcasting, written out: align from the right, a size-1 dimension repeats.
Shape broadcast(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i + a.size() >= n ? a[i + a.size() - n] : 1;
    int64_t db = i + b.size() >= n ? b[i + b.size() - n] : 1;
    out[i] = std::max(da, db);
  }
  return out;
}

// The element of x that broadcasting sends to coordinate c of a larger shape.
double at_broadcast(const Nd& x, const std::vector<int64_t>& c) {
  std::vector<int64_t> xc(x.shape.size());
  size_t lead = c.size() - x.shape.size();
  for (size_t d = 0; d < xc.size(); ++d) xc[d] = x.shape[d] == 1 ? 0 : c[d + lead];
  return at(x, xc);
}

Nd map2(const Nd& a, const Nd& b, const std::function<double(double, double)>& f) {
  return build(broadcast(a.shape, b.shape),
               [&](const std::vector<int64_t>& c) { return f(at_broadcast(a, c), at_broadcast(b, c)); });
}

std::vector<int64_t> wrap_dims(std::vector<int64_t> dims, size_t rank) {
  if (dims.empty())
    for (size_t d = 0; d < rank; ++d) dims.push_back(static_cast<int64_t>(d));
  for (auto& d : dims) d = d < 0 ? d + static_cast<int64_t>(rank) : d;
  return dims;
}

// Groups x's elements by their coordinates outside `dims` (each group in increasing order of the
// reduced coordinates) and reduces every group with f.
Nd reduce(const Nd& x, std::vector<int64_t> dims_in, bool keepdim,
          const std::function<double(const std::vector<double>&)>& f) {
  auto dims = wrap_dims(dims_in, x.shape.size());
  std::vector<bool> reduced(x.shape.size(), false);
  for (auto d : dims) reduced[d] = true;
  Shape keep = x.shape, drop;
  for (size_t d = 0; d < keep.size(); ++d) {
    if (reduced[d]) keep[d] = 1;
    else drop.push_back(x.shape[d]);
  }
  std::vector<std::vector<double>> groups(count(keep));
  for (int64_t i = 0; i < count(x.shape); ++i) {
    auto c = unravel(i, x.shape);
    for (size_t d = 0; d < c.size(); ++d)
      if (reduced[d]) c[d] = 0;
    groups[ravel(c, keep)].push_back(x.v[i]);
  }
  Nd out{keepdim ? keep : drop, {}};
  for (auto& g : groups) out.v.push_back(f(g));
  return out;
}

// Replaces every 1-d slice of x along dim with f(slice).
Nd along(const Nd& x, int64_t dim, const std::function<std::vector<double>(const std::vector<double>&)>& f) {
  int64_t d = dim < 0 ? dim + static_cast<int64_t>(x.shape.size()) : dim;
  Nd out = x;
  for (int64_t i = 0; i < count(x.shape); ++i) {
    auto c = unravel(i, x.shape);
    if (c[d] != 0) continue;
    std::vector<double> slice;
    for (c[d] = 0; c[d] < x.shape[d]; ++c[d]) slice.push_back(at(x, c));
    auto r = f(slice);
    for (c[d] = 0; c[d] < x.shape[d]; ++c[d]) out.v[ravel(c, x.shape)] = r[c[d]];
  }
  return out;
}

double total(const std::vector<double>& v) {
  double s = 0;
  for (double e : v) s += e;
  return s;
}

std::vector<double> ref_softmax(const std::vector<double>& v) {
  double m = *std::max_element(v.begin(), v.end()), z = 0;
  for (double e : v) z += std::exp(e - m);
  std::vector<double> out;
  for (double e : v) out.push_back(std::exp(e - m) / z);
  return out;
}

std::vector<double> ref_log_softmax(const std::vector<double>& v) {
  auto p = ref_softmax(v);
  for (auto& e : p) e = std::log(e);
  return p;
}

// Matrix product by the definition, with NumPy's rules for 1-d operands and batch broadcasting.
Nd ref_matmul(Nd a, Nd b) {
  bool a_vec = a.shape.size() == 1, b_vec = b.shape.size() == 1;
  if (a_vec) a.shape.insert(a.shape.begin(), 1);
  if (b_vec) b.shape.push_back(1);
  int64_t n = a.shape[a.shape.size() - 2], k = a.shape.back(), m = b.shape.back();
  Shape batch = broadcast(Shape(a.shape.begin(), a.shape.end() - 2), Shape(b.shape.begin(), b.shape.end() - 2));
  Shape shape = batch;
  shape.insert(shape.end(), {n, m});
  Nd out = build(shape, [&](const std::vector<int64_t>& c) {
    // each operand's coordinates are the trailing ones of c, its size-1 batch dimensions pinned to 0
    std::vector<int64_t> ca(c.end() - a.shape.size(), c.end()), cb(c.end() - b.shape.size(), c.end());
    for (size_t d = 0; d + 2 < a.shape.size(); ++d) if (a.shape[d] == 1) ca[d] = 0;
    for (size_t d = 0; d + 2 < b.shape.size(); ++d) if (b.shape[d] == 1) cb[d] = 0;
    double s = 0;
    for (int64_t j = 0; j < k; ++j) {
      ca.back() = j, cb[cb.size() - 2] = j;
      s += at(a, ca) * at(b, cb);
    }
    return s;
  });
  if (a_vec) out.shape.erase(out.shape.end() - 2);
  if (b_vec) out.shape.pop_back();
  return out;
}

// x [.., in] times w[out, in]^T plus bias, by the definition.
Nd ref_linear(const Nd& x, const Nd& w, const Nd* bias) {
  Shape shape = x.shape;
  shape.back() = w.shape[0];
  return build(shape, [&](const std::vector<int64_t>& c) {
    double s = bias ? bias->v[c.back()] : 0.0;
    std::vector<int64_t> xc = c;
    for (int64_t j = 0; j < w.shape[1]; ++j) {
      xc.back() = j;
      s += at(x, xc) * w.v[c.back() * w.shape[1] + j];
    }
    return s;
  });
}

// Sub-block [r0, r0 + rows) x [c0, c0 + cols) of a 2-d array (for weight-slice cases).
Nd block(const Nd& w, int64_t r0, int64_t rows, int64_t c0, int64_t cols) {
  return build({rows, cols}, [&](const std::vector<int64_t>& c) { return at(w, {r0 + c[0], c0 + c[1]}); });
}

Nd transpose2(const Nd& w) {
  return build({w.shape[1], w.shape[0]}, [&](const std::vector<int64_t>& c) { return at(w, {c[1], c[0]}); });
}

// ---------------------------------------------------------------------------------------------
// The table.
struct In {
  Shape shape;
  double lo = -1, hi = 1;
  bool grad = true;  // false: an input the op does not differentiate (still strided, still cast)
};

using OpFn = std::function<Tensor(const std::vector<Tensor>&)>;
using RefFn = std::function<Nd(const std::vector<Nd>&)>;

struct OpCase {
  std::string name;
  std::vector<In> inputs;
  OpFn op;
  RefFn ref;
  bool differentiable = true;
};

OpCase unary(std::string name, Shape s, double lo, double hi, std::function<Tensor(const Tensor&)> f,
             std::function<double(double)> r) {
  return {name, {{s, lo, hi}}, [f](const std::vector<Tensor>& x) { return f(x[0]); },
          [r](const std::vector<Nd>& x) { return map1(x[0], r); }};
}

OpCase binary(std::string name, Shape sa, Shape sb, std::function<Tensor(const Tensor&, const Tensor&)> f,
              std::function<double(double, double)> r, double blo = -1, double bhi = 1) {
  return {name + " " + shape_str(sa) + " " + shape_str(sb), {{sa}, {sb, blo, bhi}},
          [f](const std::vector<Tensor>& x) { return f(x[0], x[1]); },
          [r](const std::vector<Nd>& x) { return map2(x[0], x[1], r); }};
}

// "" when got matches want within atol + rtol*|want| (and the shapes agree), else what differs.
std::string mismatch(const Tensor& got, const Nd& want, double atol, double rtol) {
  std::ostringstream os;
  if (got.shape() != want.shape) {
    os << "shape " << shape_str(got.shape()) << ", expected " << shape_str(want.shape);
    return os.str();
  }
  auto g = got.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    double tol = atol + rtol * std::abs(want.v[i]);
    if (!(std::abs(g[i] - want.v[i]) <= tol)) {
      os << "element " << i << " " << shape_str(unravel(static_cast<int64_t>(i), want.shape)) << ": got " << g[i]
         << ", expected " << want.v[i];
      return os.str();
    }
  }
  return "";
}

void run_case(const OpCase& c, uint64_t seed) {
  for (bool strided : {false, true}) {
    const char* layout = strided ? "non-contiguous" : "contiguous";
    std::vector<Tensor> x64, x32;
    for (size_t i = 0; i < c.inputs.size(); ++i) {
      const In& in = c.inputs[i];
      Tensor base = randu(in.shape, seed + 7919 * i, in.lo, in.hi);
      Tensor b32 = base.to(DType::F32);
      x64.push_back(strided ? noncontiguous(base) : base);
      x32.push_back(strided ? noncontiguous(b32) : b32);
      if (strided && base.numel() > 1) REQUIRE(!x64.back().is_contiguous());
    }
    for (size_t i = 0; i < c.inputs.size(); ++i)
      if (c.differentiable && c.inputs[i].grad) x64[i].set_requires_grad();

    auto hosts = [](const std::vector<Tensor>& xs) {
      std::vector<Nd> h;
      for (auto& x : xs) h.push_back(host(x));
      return h;
    };
    try {
      {
        INFO(c.name << " [" << layout << ", float64 forward]");
        Tensor y = c.op(x64);
        CHECK(mismatch(y, c.ref(hosts(x64)), 1e-10, 1e-9) == "");
        if (c.differentiable) CHECK(y.dtype() == DType::F64);
      }
      {
        // The reference sees the same float-rounded inputs, so only the op's float32 arithmetic
        // is being measured.
        INFO(c.name << " [" << layout << ", float32 forward]");
        Tensor y = c.op(x32);
        CHECK(mismatch(y, c.ref(hosts(x32)), 1e-5, 1e-5) == "");
        if (c.differentiable) CHECK(y.dtype() == DType::F32);
      }
      if (c.differentiable) {
        INFO(c.name << " [" << layout << ", float64 gradcheck]");
        GradcheckResult r = gradcheck(c.op, x64);
        CHECK(r.message == "");
      }
    } catch (const std::exception& e) {
      FAIL_CHECK(c.name << " [" << layout << "] threw: " << e.what());
    }
  }
}

// An index tensor captured by a case, on the device of the op's input (kept strided: a strided
// index must stay strided on the device too).
Tensor on(const Tensor& like, const Tensor& t) {
  if (t.device() == like.device()) return t;
  return t.is_contiguous() ? t.to(like.device()) : noncontiguous(t, like.device());
}

// Tolerances of a device result against the CPU's, per dtype: float32 differs only in the order
// of sums (the CPU accumulates in double); bfloat16 results are rounded to 8 significant bits on
// both sides, from sums taken in different orders, so they may differ by a few bf16 ulps.
struct DeviceTolerance {
  double atol, rtol;
};
DeviceTolerance device_tolerance(DType t) { return t == DType::BF16 ? DeviceTolerance{3e-2, 3e-2} : DeviceTolerance{1e-5, 1e-4}; }

// "" when a device tensor matches the CPU one within tol (relative to the larger of |want| and the
// CPU tensor's largest magnitude times rtol, so cancellation near zero is not held to a relative
// bound), else the first element that differs.
std::string device_mismatch(const Tensor& got_dev, const Tensor& want, DeviceTolerance tol) {
  std::ostringstream os;
  if (got_dev.shape() != want.shape()) {
    os << "shape " << shape_str(got_dev.shape()) << ", expected " << shape_str(want.shape());
    return os.str();
  }
  if (got_dev.dtype() != want.dtype()) {
    os << "dtype " << dtype_name(got_dev.dtype()) << ", expected " << dtype_name(want.dtype());
    return os.str();
  }
  auto g = got_dev.cpu().to_vector<double>(), w = want.to_vector<double>();
  double scale = 0;
  for (double v : w) scale = std::max(scale, std::abs(v));
  for (size_t i = 0; i < g.size(); ++i) {
    const double bound = tol.atol * std::max(1.0, 0.1 * scale) + tol.rtol * std::abs(w[i]);
    if (!(std::abs(g[i] - w[i]) <= bound) && !(std::isnan(w[i]) && std::isnan(g[i]))) {
      os << "element " << i << " " << shape_str(unravel(static_cast<int64_t>(i), want.shape())) << ": got " << g[i]
         << ", expected " << w[i];
      return os.str();
    }
  }
  return "";
}

// The case on `device` against the same case on the CPU, from identical inputs (same values, same
// layout), in float32 and bfloat16: the output, and the gradient of every differentiable input
// for a fixed random weighting of the output.
void compare_on_device(const OpCase& c, uint64_t seed, Device device) {
  for (DType dtype : {DType::F32, DType::BF16}) {
    for (bool strided : {false, true}) {
      std::string mode = std::string(dtype_name(dtype)) + (strided ? ", non-contiguous" : ", contiguous");
      INFO(c.name << " [" << device.str() << " vs cpu, " << mode << "]");
      std::vector<Tensor> xc, xd;
      for (size_t i = 0; i < c.inputs.size(); ++i) {
        const In& in = c.inputs[i];
        Tensor base = randu(in.shape, seed + 7919 * i, in.lo, in.hi).to(dtype);
        xc.push_back(strided ? noncontiguous(base) : base.detach().clone());
        xd.push_back(strided ? noncontiguous(base, device) : base.to(device));
        if (c.differentiable && in.grad) xc.back().set_requires_grad(), xd.back().set_requires_grad();
      }
      try {
        Tensor yc = c.op(xc), yd = c.op(xd);
        REQUIRE(yd.device() == device);
        const DeviceTolerance tol = device_tolerance(dtype);
        CHECK(device_mismatch(yd, yc.detach(), tol) == "");
        if (!c.differentiable) continue;
        Tensor weights = randu(yc.shape(), seed + 17, -1, 1).to(dtype);
        sum(mul(yc, weights)).backward();
        sum(mul(yd, weights.to(device))).backward();
        for (size_t i = 0; i < c.inputs.size(); ++i) {
          if (!c.inputs[i].grad) continue;
          INFO("gradient of input " << i);
          REQUIRE(xd[i].grad().defined() == xc[i].grad().defined());
          if (xc[i].grad().defined()) CHECK(device_mismatch(xd[i].grad(), xc[i].grad(), tol) == "");
        }
      } catch (const std::exception& e) {
        FAIL_CHECK(c.name << " [" << mode << "] threw: " << e.what());
      }
    }
  }
}

using TableRunner = std::function<void(const std::vector<OpCase>&)>;

void run_table_cpu(const std::vector<OpCase>& cases) {
  for (size_t i = 0; i < cases.size(); ++i) run_case(cases[i], 1000 + 31 * i);
}

void run_table_cuda(const std::vector<OpCase>& cases) {
  StorageGuards guards;
  for (size_t i = 0; i < cases.size(); ++i) compare_on_device(cases[i], 1000 + 31 * i, Device::cuda());
  INFO("guard words: " << guards.first_violation());
  CHECK(guards.violations() == 0);
}

Tensor ints(const std::vector<int64_t>& v, const Shape& s) { return Tensor::from_vector<int64_t>(v, s); }

}  // namespace

// ---------------------------------------------------------------------------------------------

void table_elementwise_binary(const TableRunner& run_table) {
  std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{2, 3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{3, 4}, {}}, {{1, 3}, {2, 1}}};
  std::vector<OpCase> cases;
  for (auto& [sa, sb] : shapes) {
    cases.push_back(binary("add", sa, sb, [](auto& a, auto& b) { return add(a, b); }, [](double a, double b) { return a + b; }));
    cases.push_back(binary("sub", sa, sb, [](auto& a, auto& b) { return a - b; }, [](double a, double b) { return a - b; }));
    cases.push_back(binary("mul", sa, sb, [](auto& a, auto& b) { return a * b; }, [](double a, double b) { return a * b; }));
    cases.push_back(binary("div", sa, sb, [](auto& a, auto& b) { return div(a, b); },
                           [](double a, double b) { return a / b; }, 0.5, 2.0));
    cases.push_back(binary("maximum", sa, sb, [](auto& a, auto& b) { return maximum(a, b); },
                           [](double a, double b) { return std::max(a, b); }));
  }
  run_table(cases);
}

void table_elementwise_scalar(const TableRunner& run_table) {
  Shape s{3, 4};
  run_table({
      unary("add scalar", s, -1, 1, [](auto& x) { return add(x, 2.5); }, [](double v) { return v + 2.5; }),
      unary("x - scalar", s, -1, 1, [](auto& x) { return x - 0.75; }, [](double v) { return v - 0.75; }),
      unary("mul scalar", s, -1, 1, [](auto& x) { return mul(x, -1.5); }, [](double v) { return -1.5 * v; }),
      unary("scalar * x", s, -1, 1, [](auto& x) { return 3.0 * x; }, [](double v) { return 3 * v; }),
      unary("x / scalar", s, -1, 1, [](auto& x) { return x / 4.0; }, [](double v) { return v / 4; }),
      unary("rsub", s, -1, 1, [](auto& x) { return rsub(2.0, x); }, [](double v) { return 2 - v; }),
      unary("add scalar 0-d", {}, -1, 1, [](auto& x) { return add(x, 1.0); }, [](double v) { return v + 1; }),
  });
}

void table_unary_math(const TableRunner& run_table) {
  Shape s{3, 4};
  run_table({
      unary("neg", s, -1, 1, [](auto& x) { return neg(x); }, [](double v) { return -v; }),
      unary("unary minus", {2, 3, 2}, -1, 1, [](auto& x) { return -x; }, [](double v) { return -v; }),
      unary("pow 3", s, -1, 1, [](auto& x) { return pow(x, 3.0); }, [](double v) { return v * v * v; }),
      unary("pow 0.5", s, 0.2, 2, [](auto& x) { return pow(x, 0.5); }, [](double v) { return std::sqrt(v); }),
      unary("pow -1.5", s, 0.2, 2, [](auto& x) { return pow(x, -1.5); }, [](double v) { return 1 / (v * std::sqrt(v)); }),
      unary("exp", s, -2, 2, [](auto& x) { return exp(x); }, [](double v) { return std::exp(v); }),
      unary("log", s, 0.1, 3, [](auto& x) { return log(x); }, [](double v) { return std::log(v); }),
      unary("sqrt", s, 0.1, 3, [](auto& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }),
      unary("rsqrt", s, 0.1, 3, [](auto& x) { return rsqrt(x); }, [](double v) { return 1 / std::sqrt(v); }),
      unary("abs", s, -1, 1, [](auto& x) { return abs(x); }, [](double v) { return v < 0 ? -v : v; }),
      unary("clamp", {4, 5}, -1, 1, [](auto& x) { return clamp(x, -0.5, 0.3); },
            [](double v) { return v < -0.5 ? -0.5 : v > 0.3 ? 0.3 : v; }),
      unary("reciprocal", s, 0.3, 2, [](auto& x) { return reciprocal(x); }, [](double v) { return 1 / v; }),
      unary("reciprocal negative", s, -2, -0.3, [](auto& x) { return reciprocal(x); }, [](double v) { return 1 / v; }),
  });
}

void table_activations(const TableRunner& run_table) {
  Shape s{4, 5};
  auto relu6_ref = [](double v) { return std::min(std::max(v, 0.0), 6.0); };
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  run_table({
      unary("relu", s, -1, 1, [](auto& x) { return relu(x); }, [](double v) { return v > 0 ? v : 0; }),
      unary("relu6", s, -3, 9, [](auto& x) { return relu6(x); }, relu6_ref),
      // PyTorch's documented forms: x * relu6(x + 3) / 6 and relu6(x + 3) / 6
      unary("hardswish", s, -5, 5, [](auto& x) { return hardswish(x); },
            [=](double v) { return v * relu6_ref(v + 3) / 6; }),
      unary("hardsigmoid", s, -5, 5, [](auto& x) { return hardsigmoid(x); },
            [=](double v) { return relu6_ref(v + 3) / 6; }),
      unary("sigmoid", s, -5, 5, [](auto& x) { return sigmoid(x); }, sig),
      unary("sigmoid saturated", s, -60, 60, [](auto& x) { return sigmoid(x); }, sig),
      unary("silu", s, -5, 5, [](auto& x) { return silu(x); }, [=](double v) { return v * sig(v); }),
      unary("tanh", s, -3, 3, [](auto& x) { return tanh(x); },
            [](double v) { return (std::exp(2 * v) - 1) / (std::exp(2 * v) + 1); }),
      // x * Phi(x), with Phi written through erfc rather than erf
      unary("gelu erf", s, -4, 4, [](auto& x) { return gelu(x); },
            [](double v) { return v * 0.5 * std::erfc(-v / std::sqrt(2.0)); }),
      // 0.5 (1 + tanh(u)) = sigmoid(2u)
      unary("gelu tanh", s, -4, 4, [](auto& x) { return gelu(x, GeluApprox::Tanh); }, [=](double v) {
        double u = std::sqrt(2 / std::numbers::pi) * (v + 0.044715 * v * v * v);
        return v * sig(2 * u);
      }),
  });
}

void table_reductions(const TableRunner& run_table) {
  auto red = [](std::string name, Shape s, std::function<Tensor(const Tensor&)> f, std::vector<int64_t> dims,
                bool keep, std::function<double(const std::vector<double>&)> r, bool diff = true) {
    return OpCase{name, {{s}}, [f](const std::vector<Tensor>& x) { return f(x[0]); },
                  [=](const std::vector<Nd>& x) { return reduce(x[0], dims, keep, r); }, diff};
  };
  auto mean_of = [](const std::vector<double>& v) { return total(v) / v.size(); };
  auto var_of = [=](bool unbiased) {
    return [=](const std::vector<double>& v) {
      double m = mean_of(v), ss = 0;
      for (double e : v) ss += (e - m) * (e - m);
      return ss / (v.size() - (unbiased ? 1 : 0));
    };
  };
  auto max_of = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
  auto argmax_of = [](const std::vector<double>& v) {
    return double(std::max_element(v.begin(), v.end()) - v.begin());
  };
  Shape s{2, 3, 4};
  run_table({
      red("sum all", s, [](auto& x) { return sum(x); }, {}, false, total),
      red("sum dim 1", s, [](auto& x) { return sum(x, {1}); }, {1}, false, total),
      red("sum dims 0,2 keepdim", s, [](auto& x) { return sum(x, {0, 2}, true); }, {0, 2}, true, total),
      red("sum dim -1", s, [](auto& x) { return sum(x, {-1}); }, {-1}, false, total),
      red("sum 0-d", {}, [](auto& x) { return sum(x); }, {}, false, total),
      red("mean all", s, [](auto& x) { return mean(x); }, {}, false, mean_of),
      red("mean dim 2 keepdim", s, [](auto& x) { return mean(x, {2}, true); }, {2}, true, mean_of),
      red("mean dims -1,0", s, [](auto& x) { return mean(x, {-1, 0}); }, {-1, 0}, false, mean_of),
      red("var all unbiased", s, [](auto& x) { return var(x); }, {}, false, var_of(true)),
      red("var dim 1 biased keepdim", s, [](auto& x) { return var(x, {1}, false, true); }, {1}, true, var_of(false)),
      red("var dims 0,2 unbiased", s, [](auto& x) { return var(x, {0, 2}); }, {0, 2}, false, var_of(true)),
      red("var dim -1 biased", {5, 3}, [](auto& x) { return var(x, {-1}, false); }, {-1}, false, var_of(false)),
      red("amax dim 1", s, [](auto& x) { return amax(x, 1); }, {1}, false, max_of),
      red("amax dim 0 keepdim", s, [](auto& x) { return amax(x, 0, true); }, {0}, true, max_of),
      red("amax dim -1", s, [](auto& x) { return amax(x, -1); }, {-1}, false, max_of),
      red("amax 1-d", {7}, [](auto& x) { return amax(x, 0); }, {0}, false, max_of),
      red("argmax dim 1", s, [](auto& x) { return argmax(x, 1); }, {1}, false, argmax_of, false),
      red("argmax dim 0 keepdim", s, [](auto& x) { return argmax(x, 0, true); }, {0}, true, argmax_of, false),
      red("argmax dim -1", s, [](auto& x) { return argmax(x, -1); }, {-1}, false, argmax_of, false),
  });
}

TEST_CASE("ops table: amax and argmax pick the first of tied maxima", "[ops]") {
  Tensor x = Tensor::from_vector<double>({1, 3, 3, 2, 5, 5, 0, -1}, {2, 4}).set_requires_grad();
  CHECK(argmax(x, 1).to_vector<int64_t>() == std::vector<int64_t>{1, 0});
  CHECK(argmax(x, 1).dtype() == DType::I64);
  CHECK(!argmax(x, 1).requires_grad());
  sum(amax(x, 1)).backward();
  CHECK(x.grad().to_vector<double>() == std::vector<double>{0, 1, 0, 0, 1, 0, 0, 0});
}

void table_matmul_linear(const TableRunner& run_table) {
  auto mm = [](std::string name, Shape sa, Shape sb) {
    return OpCase{"matmul " + name + " " + shape_str(sa) + " @ " + shape_str(sb), {{sa}, {sb}},
                  [](const std::vector<Tensor>& x) { return matmul(x[0], x[1]); },
                  [](const std::vector<Nd>& x) { return ref_matmul(x[0], x[1]); }};
  };
  std::vector<OpCase> cases = {
      mm("2-d", {3, 4}, {4, 5}),
      mm("batched", {2, 3, 4}, {2, 4, 5}),
      mm("broadcast batch", {2, 1, 3, 4}, {3, 4, 2}),
      mm("2-d with batched", {3, 4}, {2, 4, 5}),
      mm("vector-matrix", {4}, {4, 5}),
      mm("matrix-vector", {3, 4}, {4}),
      mm("dot", {4}, {4}),
      mm("vector-batched", {4}, {2, 4, 3}),
      // transposed operands: gemm reads them through their strides
      {"matmul a^T @ b", {{{4, 3}}, {{4, 5}}},
       [](const std::vector<Tensor>& x) { return matmul(x[0].t(), x[1]); },
       [](const std::vector<Nd>& x) { return ref_matmul(transpose2(x[0]), x[1]); }},
      {"matmul a @ b^T", {{{3, 4}}, {{5, 4}}},
       [](const std::vector<Tensor>& x) { return matmul(x[0], x[1].t()); },
       [](const std::vector<Nd>& x) { return ref_matmul(x[0], transpose2(x[1])); }},
      {"linear with bias", {{{3, 4}}, {{5, 4}}, {{5}}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
       [](const std::vector<Nd>& x) { return ref_linear(x[0], x[1], &x[2]); }},
      {"linear without bias", {{{3, 4}}, {{5, 4}}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1]); },
       [](const std::vector<Nd>& x) { return ref_linear(x[0], x[1], nullptr); }},
      {"linear batched input", {{{2, 3, 4}}, {{5, 4}}, {{5}}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
       [](const std::vector<Nd>& x) { return ref_linear(x[0], x[1], &x[2]); }},
      {"linear 1-d input", {{{4}}, {{3, 4}}, {{3}}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1], x[2]); },
       [](const std::vector<Nd>& x) { return ref_linear(x[0], x[1], &x[2]); }},
      // a slimmable layer's weight: W[1:6, 2:6] of a [7, 6] parameter (and a slice of its bias);
      // the gradient must land in that region of W and be zero elsewhere
      {"linear narrowed weight", {{{3, 4}}, {{7, 6}}, {{7}}},
       [](const std::vector<Tensor>& x) {
         return linear(x[0], x[1].narrow(0, 1, 5).narrow(1, 2, 4), x[2].narrow(0, 0, 5));
       },
       [](const std::vector<Nd>& x) {
         Nd b{{5}, std::vector<double>(x[2].v.begin(), x[2].v.begin() + 5)};
         return ref_linear(x[0], block(x[1], 1, 5, 2, 4), &b);
       }},
      // the same slice taken from a weight stored transposed (column stride != 1)
      {"linear narrowed transposed weight", {{{3, 4}}, {{6, 7}}},
       [](const std::vector<Tensor>& x) { return linear(x[0], x[1].t().narrow(0, 0, 5).narrow(1, 1, 4)); },
       [](const std::vector<Nd>& x) { return ref_linear(x[0], block(transpose2(x[1]), 0, 5, 1, 4), nullptr); }},
  };
  run_table(cases);
}

void table_softmax_losses(const TableRunner& run_table) {
  auto sm = [](std::string name, Shape s, int64_t dim, bool log_form, double range) {
    return OpCase{name + " dim " + std::to_string(dim) + " " + shape_str(s), {{s, -range, range}},
                  [=](const std::vector<Tensor>& x) { return log_form ? log_softmax(x[0], dim) : softmax(x[0], dim); },
                  [=](const std::vector<Nd>& x) { return along(x[0], dim, log_form ? ref_log_softmax : ref_softmax); }};
  };
  Tensor labels = ints({0, 3, 4, 3}, {4});
  std::vector<int64_t> lv = {0, 3, 4, 3};
  auto normalize_ref = [](int64_t dim, double eps) {
    return [=](const std::vector<Nd>& x) {
      return along(x[0], dim, [=](const std::vector<double>& v) {
        double ss = 0;
        for (double e : v) ss += e * e;
        double d = std::max(std::sqrt(ss), eps);
        std::vector<double> out;
        for (double e : v) out.push_back(e / d);
        return out;
      });
    };
  };
  run_table({
      sm("softmax", {3, 5}, -1, false, 2),
      sm("softmax", {3, 5}, 0, false, 2),
      sm("softmax", {2, 3, 4}, 1, false, 2),
      sm("softmax large logits", {3, 5}, 1, false, 60),
      sm("log_softmax", {3, 5}, -1, true, 2),
      sm("log_softmax", {2, 3, 4}, 0, true, 2),
      sm("log_softmax large logits", {3, 5}, 1, true, 60),
      {"cross_entropy", {{{4, 5}, -2, 2}},
       [=](const std::vector<Tensor>& x) { return cross_entropy(x[0], on(x[0], labels)); },
       [=](const std::vector<Nd>& x) {
         double loss = 0;
         Nd ls = along(x[0], 1, ref_log_softmax);
         for (int64_t i = 0; i < 4; ++i) loss -= at(ls, {i, lv[i]});
         return Nd{{}, {loss / 4}};
       }},
      {"soft_cross_entropy", {{{4, 5}, -2, 2}, {{4, 5}, 0, 1, false}},
       [](const std::vector<Tensor>& x) { return soft_cross_entropy(x[0], x[1]); },
       [](const std::vector<Nd>& x) {
         Nd ls = along(x[0], 1, ref_log_softmax);
         double loss = 0;
         for (size_t i = 0; i < ls.v.size(); ++i) loss -= x[1].v[i] * ls.v[i];
         return Nd{{}, {loss / 4}};
       }},
      {"soft_cross_entropy, target a distribution", {{{3, 4}, -2, 2}, {{3, 4}, -1, 1, false}},
       [](const std::vector<Tensor>& x) { return soft_cross_entropy(x[0], softmax(x[1], 1)); },
       [](const std::vector<Nd>& x) {
         Nd ls = along(x[0], 1, ref_log_softmax), p = along(x[1], 1, ref_softmax);
         double loss = 0;
         for (size_t i = 0; i < ls.v.size(); ++i) loss -= p.v[i] * ls.v[i];
         return Nd{{}, {loss / 3}};
       }},
      {"normalize dim -1", {{{3, 4}}}, [](const std::vector<Tensor>& x) { return normalize(x[0]); },
       normalize_ref(-1, 1e-12)},
      {"normalize dim 0", {{{3, 4}}}, [](const std::vector<Tensor>& x) { return normalize(x[0], 0); },
       normalize_ref(0, 1e-12)},
      {"normalize dim 1 of 3-d", {{{2, 3, 4}}}, [](const std::vector<Tensor>& x) { return normalize(x[0], 1); },
       normalize_ref(1, 1e-12)},
      // every norm here is below eps, so the divisor is the constant eps
      {"normalize below eps", {{{3, 4}}}, [](const std::vector<Tensor>& x) { return normalize(x[0], 1, 10.0); },
       normalize_ref(1, 10.0)},
  });
}

void table_joining_indexing(const TableRunner& run_table) {
  auto cat_ref = [](int64_t dim) {
    return [=](const std::vector<Nd>& xs) {
      int64_t d = dim < 0 ? dim + static_cast<int64_t>(xs[0].shape.size()) : dim;
      Shape s = xs[0].shape;
      s[d] = 0;
      for (auto& x : xs) s[d] += x.shape[d];
      return build(s, [&](std::vector<int64_t> c) {
        size_t i = 0;
        while (c[d] >= xs[i].shape[d]) c[d] -= xs[i++].shape[d];
        return at(xs[i], c);
      });
    };
  };
  auto stack_ref = [](int64_t dim) {
    return [=](const std::vector<Nd>& xs) {
      int64_t d = dim < 0 ? dim + static_cast<int64_t>(xs[0].shape.size()) + 1 : dim;
      Shape s = xs[0].shape;
      s.insert(s.begin() + d, static_cast<int64_t>(xs.size()));
      return build(s, [&](std::vector<int64_t> c) {
        int64_t i = c[d];
        c.erase(c.begin() + d);
        return at(xs[i], c);
      });
    };
  };
  auto cat = [](int64_t dim) { return [=](const std::vector<Tensor>& x) { return concat(x, dim); }; };
  auto stk = [](int64_t dim) { return [=](const std::vector<Tensor>& x) { return stack(x, dim); }; };

  auto select_ref = [](int64_t dim, std::vector<int64_t> idx) {
    return [=](const std::vector<Nd>& x) {
      Shape s = x[0].shape;
      s[dim] = static_cast<int64_t>(idx.size());
      return build(s, [&](std::vector<int64_t> c) {
        c[dim] = idx[c[dim]];
        return at(x[0], c);
      });
    };
  };
  auto gather_ref = [](int64_t dim, Tensor index) {
    Nd ix = host(index);
    return [=](const std::vector<Nd>& x) {
      return build(ix.shape, [&](std::vector<int64_t> c) {
        double i = at(ix, c);
        c[dim] = static_cast<int64_t>(i);
        return at(x[0], c);
      });
    };
  };
  // Repeated indices everywhere: their gradients must add up.
  Tensor sel0 = ints({2, 0, 2, 1}, {4}), sel1 = ints({3, 3, 0}, {3});
  Tensor g1 = ints({0, 3, 3, 1, 0, 2, 2, 2, 1, 0, 3, 0, 1, 1, 2}, {3, 5});
  Tensor g0 = ints({3, 0, 3, 1, 1, 2}, {2, 3});
  Tensor gt = ints({1, 0, 2, 2, 0, 1, 1, 1, 0, 2, 0, 0}, {4, 3}).t();  // a strided [3, 4] index
  REQUIRE(!gt.is_contiguous());
  Tensor sel_strided = ints({1, 9, 0, 9, 1, 9}, {6}).as_strided({3}, {2}, 0);  // {1, 0, 1}
  run_table({
      {"concat dim 0", {{{2, 3}}, {{4, 3}}}, cat(0), cat_ref(0)},
      {"concat dim 1 of three", {{{2, 1}}, {{2, 3}}, {{2, 2}}}, cat(1), cat_ref(1)},
      {"concat dim -1 3-d", {{{2, 3, 1}}, {{2, 3, 2}}}, cat(-1), cat_ref(-1)},
      {"concat single", {{{2, 3}}}, cat(0), cat_ref(0)},
      {"concat one tensor twice", {{{2, 3}}},
       [](const std::vector<Tensor>& x) { return concat({x[0], x[0]}, 1); },
       [=](const std::vector<Nd>& x) { return cat_ref(1)({x[0], x[0]}); }},
      {"stack dim 0", {{{2, 3}}, {{2, 3}}, {{2, 3}}}, stk(0), stack_ref(0)},
      {"stack dim 1", {{{2, 3}}, {{2, 3}}}, stk(1), stack_ref(1)},
      {"stack dim -1", {{{2, 3}}, {{2, 3}}}, stk(-1), stack_ref(-1)},
      {"index_select dim 0 repeated", {{{3, 4}}},
       [=](const std::vector<Tensor>& x) { return index_select(x[0], 0, on(x[0], sel0)); }, select_ref(0, {2, 0, 2, 1})},
      {"index_select dim 1 of 3-d", {{{3, 4, 2}}},
       [=](const std::vector<Tensor>& x) { return index_select(x[0], 1, on(x[0], sel1)); }, select_ref(1, {3, 3, 0})},
      {"index_select dim -1 strided index", {{{2, 3}}},
       [=](const std::vector<Tensor>& x) { return index_select(x[0], -1, on(x[0], sel_strided)); }, select_ref(1, {1, 0, 1})},
      {"gather dim 1 repeated", {{{3, 4}}}, [=](const std::vector<Tensor>& x) { return gather(x[0], 1, on(x[0], g1)); },
       gather_ref(1, g1)},
      {"gather dim 0 smaller index", {{{4, 3}}}, [=](const std::vector<Tensor>& x) { return gather(x[0], 0, on(x[0], g0)); },
       gather_ref(0, g0)},
      {"gather dim -1 strided index", {{{3, 5}}}, [=](const std::vector<Tensor>& x) { return gather(x[0], -1, on(x[0], gt)); },
       gather_ref(1, gt)},
  });
}

void table_views(const TableRunner& run_table) {
  auto view_case = [](std::string name, Shape s, std::function<Tensor(const Tensor&)> f,
                      std::function<Nd(const Nd&)> r) {
    return OpCase{name + " " + shape_str(s), {{s}}, [f](const std::vector<Tensor>& x) { return f(x[0]); },
                  [r](const std::vector<Nd>& x) { return r(x[0]); }};
  };
  auto permuted = [](std::vector<int64_t> order) {
    return [=](const Nd& x) {
      Shape s;
      for (auto o : order) s.push_back(x.shape[o]);
      return build(s, [&](const std::vector<int64_t>& c) {
        std::vector<int64_t> xc(c.size());
        for (size_t i = 0; i < c.size(); ++i) xc[order[i]] = c[i];
        return at(x, xc);
      });
    };
  };
  auto reshaped = [](Shape s) { return [=](const Nd& x) { return Nd{s, x.v}; }; };
  run_table({
      view_case("narrow", {3, 4}, [](auto& x) { return x.narrow(1, 1, 2); },
                [](const Nd& x) { return build({3, 2}, [&](auto c) { return at(x, {c[0], c[1] + 1}); }); }),
      view_case("narrow of narrow", {4, 5}, [](auto& x) { return x.narrow(0, 1, 3).narrow(1, 2, 2); },
                [](const Nd& x) { return block(x, 1, 3, 2, 2); }),
      view_case("slice", {5, 2}, [](auto& x) { return x.slice(0, 1, 4); },
                [](const Nd& x) { return block(x, 1, 3, 0, 2); }),
      view_case("select", {3, 4, 2}, [](auto& x) { return x.select(1, 2); },
                [](const Nd& x) { return build({3, 2}, [&](auto c) { return at(x, {c[0], 2, c[1]}); }); }),
      view_case("select negative", {3, 4}, [](auto& x) { return x.select(-1, -1); },
                [](const Nd& x) { return build({3}, [&](auto c) { return at(x, {c[0], 3}); }); }),
      view_case("permute", {2, 3, 4}, [](auto& x) { return x.permute({2, 0, 1}); }, permuted({2, 0, 1})),
      view_case("transpose", {2, 3, 4}, [](auto& x) { return x.transpose(0, 2); }, permuted({2, 1, 0})),
      view_case("t", {3, 4}, [](auto& x) { return x.t(); }, permuted({1, 0})),
      view_case("expand", {3, 1}, [](auto& x) { return x.expand({2, 3, 4}); },
                [](const Nd& x) { return build({2, 3, 4}, [&](auto c) { return at(x, {c[1], 0}); }); }),
      view_case("reshape", {3, 4}, [](auto& x) { return x.reshape({2, 6}); }, reshaped({2, 6})),
      view_case("reshape infer", {2, 3, 4}, [](auto& x) { return x.reshape({4, -1}); }, reshaped({4, 6})),
      view_case("reshape of transpose (copies)", {3, 4}, [](auto& x) { return x.t().reshape({12}); },
                [=](const Nd& x) { return reshaped({12})(permuted({1, 0})(x)); }),
      view_case("flatten", {2, 3, 2}, [](auto& x) { return x.flatten(1); }, reshaped({2, 6})),
      view_case("unsqueeze/squeeze", {3, 4}, [](auto& x) { return x.unsqueeze(1).squeeze(1).unsqueeze(0); },
                reshaped({1, 3, 4})),
  });
}

TEST_CASE("ops table: index gradients above the threading threshold", "[ops]") {
  // cpu::for_each_offset splits iterations over threads past 64K elements; repeated indices must
  // still add up (and not race) there. Checked against a scatter written out with plain loops.
  const int64_t rows = 300, cols = 256, k = 400, width = 512;
  std::vector<int64_t> rsel(k), csel(rows * width);
  for (int64_t j = 0; j < k; ++j) rsel[j] = (j * 7) % rows / 2;
  for (int64_t j = 0; j < rows * width; ++j) csel[j] = (j * 13 + j / 5) % cols;
  Tensor x = randu({rows, cols}, 5).set_requires_grad();
  auto xv = x.to_vector<double>();

  Tensor g = randu({k, cols}, 6);
  Tensor y = index_select(x, 0, ints(rsel, {k}));
  std::vector<double> want_y(k * cols), want_gx(rows * cols, 0.0), gv = g.to_vector<double>();
  for (int64_t j = 0; j < k; ++j)
    for (int64_t c = 0; c < cols; ++c) {
      want_y[j * cols + c] = xv[rsel[j] * cols + c];
      want_gx[rsel[j] * cols + c] += gv[j * cols + c];
    }
  CHECK(mismatch(y, Nd{{k, cols}, want_y}, 0, 0) == "");
  y.backward(g);
  CHECK(mismatch(x.grad(), Nd{{rows, cols}, want_gx}, 1e-12, 1e-12) == "");

  x.zero_grad();
  Tensor h = randu({rows, width}, 7);
  Tensor z = gather(x, 1, ints(csel, {rows, width}));
  std::vector<double> want_z(rows * width), hv = h.to_vector<double>();
  std::fill(want_gx.begin(), want_gx.end(), 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < width; ++j) {
      want_z[r * width + j] = xv[r * cols + csel[r * width + j]];
      want_gx[r * cols + csel[r * width + j]] += hv[r * width + j];
    }
  CHECK(mismatch(z, Nd{{rows, width}, want_z}, 0, 0) == "");
  z.backward(h);
  CHECK(mismatch(x.grad(), Nd{{rows, cols}, want_gx}, 1e-12, 1e-12) == "");
}

// Each table runs twice: on the CPU against the naive references and finite differences, and on
// CUDA (a GPU, or the emulated device) against the CPU, values and gradients.
#define OPS_TABLE(title, fn)                                              \
  TEST_CASE("ops table: " title, "[ops]") { fn(run_table_cpu); }         \
  TEST_CASE("ops table on cuda: " title, "[cuda][ops]") {                \
    if (slimssl::testing::gpu_or_skip()) fn(run_table_cuda);                                  \
  }
OPS_TABLE("elementwise binary with broadcasting", table_elementwise_binary)
OPS_TABLE("elementwise with a scalar", table_elementwise_scalar)
OPS_TABLE("unary math", table_unary_math)
OPS_TABLE("activations", table_activations)
OPS_TABLE("reductions", table_reductions)
OPS_TABLE("matmul and linear", table_matmul_linear)
OPS_TABLE("softmax and losses", table_softmax_losses)
OPS_TABLE("joining and indexing", table_joining_indexing)
OPS_TABLE("views", table_views)
