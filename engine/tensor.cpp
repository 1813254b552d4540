#include "engine/tensor.h"
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <numeric>
#include <sstream>
#include "engine/autograd.h"
#include "engine/backend.h"
#include "engine/cpu/convert.h"
#include "engine/layout.h"
#include "engine/ops.h"
#include "engine/size_math.h"

namespace slimssl {

int64_t numel_of(const Shape& shape) {
  auto n = checked_product(shape);
  SLIMSSL_CHECK(n, "shape ", shape_str(shape), " has a negative size or sizes whose product overflows 64 bits");
  return *n;
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    st[d] = acc;
    auto next = checked_mul(acc, std::max<int64_t>(shape[d], 1));
    SLIMSSL_CHECK(next, "shape ", shape_str(shape), ": strides do not fit in 64 bits");
    acc = *next;
  }
  return st;
}

int64_t wrap_dim(int64_t dim, int64_t rank, const char* op) {
  int64_t r = std::max<int64_t>(rank, 1);
  SLIMSSL_CHECK(dim >= -r && dim < r, op, ": dimension ", dim, " out of range for a tensor of rank ", rank);
  return dim < 0 ? dim + r : dim;
}

TensorImpl& Tensor::impl() const {
  SLIMSSL_CHECK(impl_ != nullptr, "use of an undefined tensor");
  return *impl_;
}

// ---------------- construction ----------------
Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (auto s : shape) SLIMSSL_CHECK(s >= 0, "empty: negative size in shape ", shape_str(shape));
  auto bytes = checked_mul(numel_of(shape), static_cast<int64_t>(dtype_size(dtype)));
  SLIMSSL_CHECK(bytes, "empty: shape ", shape_str(shape), " needs more bytes than fit in 64 bits");
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(static_cast<size_t>(*bytes), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(impl);
}
Tensor Tensor::zeros(const Shape& s, DType d, Device dev) { return full(s, 0.0, d, dev); }
Tensor Tensor::ones(const Shape& s, DType d, Device dev) { return full(s, 1.0, d, dev); }
Tensor Tensor::full(const Shape& s, double v, DType d, Device dev) {
  Tensor t = empty(s, d, dev);
  t.fill_(v);
  return t;
}
Tensor Tensor::scalar(double v, DType d, Device dev) { return full({}, v, d, dev); }
Tensor Tensor::arange(int64_t n, DType d, Device dev) {
  Tensor t = empty({n}, d);
  SLIMSSL_DISPATCH_ALL(d, "arange", [&] {
    auto* p = t.data<scalar_t>();
    for (int64_t i = 0; i < n; ++i) p[i] = cpu::convert<scalar_t>(static_cast<double>(i));
  });
  return dev.is_cpu() ? t : t.to(dev);
}

// ---------------- metadata ----------------
int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    auto next = checked_mul(expected, shape()[d]);
    if (!next) return false;  // only an expanded view can be this large, and it is not contiguous
    expected = *next;
  }
  return true;
}

void* Tensor::raw() const {
  return static_cast<char*>(storage()->data) + offset() * static_cast<int64_t>(itemsize());
}

// ---------------- views ----------------
namespace {
Tensor make_view(const Tensor& base, Shape shape, Shape strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->offset = offset;
  impl->shape = std::move(shape);
  impl->strides = std::move(strides);
  impl->dtype = base.dtype();
  return Tensor(impl);
}
}  // namespace

Tensor Tensor::as_strided(const Shape& shape, const Shape& strides, int64_t offset) const {
  SLIMSSL_CHECK(shape.size() == strides.size(), "as_strided: shape ", shape_str(shape), " and strides ",
                shape_str(strides), " differ in rank");
  return make_view(*this, shape, strides, offset);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  d = wrap_dim(d, dim(), "narrow");
  SLIMSSL_CHECK(start >= 0 && length >= 0 && start + length <= shape()[d], "narrow: range [", start, ", ",
                start + length, ") out of bounds for dimension ", d, " of a tensor of shape ",
                shape_str(shape()));
  Shape s = shape();
  s[d] = length;
  Tensor out = make_view(*this, s, strides(), offset() + start * strides()[d]);
  return record_region_view("narrow", *this, out,
                            [d, start, length](const Tensor& b) { return b.narrow(d, start, length); });
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  d = wrap_dim(d, dim(), "select");
  SLIMSSL_CHECK(index >= -shape()[d] && index < shape()[d], "select: index ", index,
                " out of range for dimension ", d, " of shape ", shape_str(shape()));
  if (index < 0) index += shape()[d];
  Shape s = shape(), st = strides();
  int64_t off = offset() + index * st[d];
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  Tensor out = make_view(*this, s, st, off);
  return record_region_view("select", *this, out, [d, index](const Tensor& b) { return b.select(d, index); });
}

Tensor Tensor::permute(const std::vector<int64_t>& order) const {
  SLIMSSL_CHECK(static_cast<int64_t>(order.size()) == dim(), "permute: order of length ", order.size(),
                " for a tensor of rank ", dim());
  Shape s(dim()), st(dim());
  std::vector<int64_t> inverse(dim(), -1);
  for (int64_t i = 0; i < dim(); ++i) {
    int64_t o = wrap_dim(order[i], dim(), "permute");
    SLIMSSL_CHECK(inverse[o] < 0, "permute: dimension ", o, " repeated in the order");
    inverse[o] = i;
    s[i] = shape()[o];
    st[i] = strides()[o];
  }
  Tensor out = make_view(*this, s, st, offset());
  return record("permute", out, {*this}, [inverse](const Tensor& g, GradSink& sink) {
    sink.add(0, g.permute(inverse));
  });
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  std::vector<int64_t> order(dim());
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[wrap_dim(a, dim(), "transpose")], order[wrap_dim(b, dim(), "transpose")]);
  return permute(order);
}

Tensor Tensor::expand(const Shape& target) const {
  SLIMSSL_CHECK(static_cast<int64_t>(target.size()) >= dim(), "expand: cannot expand shape ",
                shape_str(shape()), " to ", shape_str(target));
  size_t lead = target.size() - dim();
  Shape st(target.size(), 0);
  for (size_t i = 0; i < target.size(); ++i) {
    if (i < lead) continue;
    int64_t src = shape()[i - lead];
    SLIMSSL_CHECK(src == target[i] || src == 1, "expand: cannot expand shape ", shape_str(shape()), " to ",
                  shape_str(target));
    st[i] = src == target[i] ? strides()[i - lead] : 0;
  }
  Tensor out = make_view(*this, target, st, offset());
  Shape in_shape = shape();
  return record("expand", out, {*this}, [in_shape](const Tensor& g, GradSink& sink) {
    sink.add(0, sum_to(g, in_shape));
  });
}

namespace {
// Infers one -1 entry and checks the element count.
Shape resolve_shape(const Shape& target, int64_t n, const Shape& from) {
  Shape s = target;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      SLIMSSL_CHECK(infer < 0, "reshape: more than one -1 in ", shape_str(target));
      infer = static_cast<int64_t>(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) {
    SLIMSSL_CHECK(known > 0 && n % known == 0, "reshape: cannot reshape ", shape_str(from), " to ",
                  shape_str(target));
    s[infer] = n / known;
  }
  SLIMSSL_CHECK(numel_of(s) == n, "reshape: cannot reshape ", shape_str(from), " (", n, " elements) to ",
                shape_str(target));
  return s;
}

// Strides for viewing (shape, strides) as `target` without a copy, if possible.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& target, Shape& out) {
  out.assign(target.size(), 0);
  // Split source dims into contiguous chunks, match target dims chunk by chunk.
  int64_t ti = 0, nt = static_cast<int64_t>(target.size());
  int64_t si = 0, ns = static_cast<int64_t>(shape.size());
  while (si < ns || ti < nt) {
    // skip size-1 source dims
    if (si < ns && shape[si] == 1) { ++si; continue; }
    if (ti < nt && target[ti] == 1) { out[ti] = 1; ++ti; continue; }
    if (si >= ns || ti >= nt) return false;
    // build a chunk of source dims that are mutually contiguous
    int64_t chunk = shape[si];
    int64_t s_end = si;
    while (s_end + 1 < ns && (shape[s_end + 1] == 1 || strides[s_end] == strides[s_end + 1] * shape[s_end + 1])) {
      ++s_end;
      chunk *= shape[s_end];
    }
    int64_t inner_stride = strides[s_end];
    for (int64_t k = s_end; k > si && shape[k] == 1; --k) inner_stride = strides[k - 1];
    // find innermost non-1 dim of the chunk for its stride
    for (int64_t k = s_end; k >= si; --k) if (shape[k] != 1) { inner_stride = strides[k]; break; }
    // consume target dims whose product equals chunk
    int64_t prod = 1, t_start = ti;
    while (ti < nt && prod < chunk) prod *= target[ti++];
    if (prod != chunk) return false;
    int64_t acc = inner_stride;
    for (int64_t k = ti - 1; k >= t_start; --k) {
      out[k] = acc;
      acc *= target[k];
    }
    si = s_end + 1;
  }
  return true;
}
}  // namespace

Tensor Tensor::view(const Shape& target_in) const {
  Shape target = resolve_shape(target_in, numel(), shape());
  Shape st;
  SLIMSSL_CHECK(view_strides(shape(), strides(), target, st), "view: a tensor of shape ", shape_str(shape()),
                " with strides ", shape_str(strides()), " cannot be viewed as ", shape_str(target),
                " without a copy (use reshape)");
  Tensor out = make_view(*this, target, st, offset());
  Shape in_shape = shape();
  return record("view", out, {*this}, [in_shape](const Tensor& g, GradSink& sink) {
    sink.add(0, g.reshape(in_shape));
  });
}

Tensor Tensor::reshape(const Shape& target_in) const {
  Shape target = resolve_shape(target_in, numel(), shape());
  Shape st;
  if (view_strides(shape(), strides(), target, st)) return view(target);
  return contiguous().view(target);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  if (dim() == 0) return reshape({1});
  start = wrap_dim(start, dim(), "flatten");
  end = wrap_dim(end, dim(), "flatten");
  Shape s(shape().begin(), shape().begin() + start);
  int64_t m = 1;
  for (int64_t d = start; d <= end; ++d) m *= shape()[d];
  s.push_back(m);
  s.insert(s.end(), shape().begin() + end + 1, shape().end());
  return reshape(s);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  s.insert(s.begin() + d, 1);
  return view(s);
}

Tensor Tensor::squeeze(int64_t d) const {
  d = wrap_dim(d, dim(), "squeeze");
  SLIMSSL_CHECK(shape()[d] == 1, "squeeze: dimension ", d, " of shape ", shape_str(shape()), " is not 1");
  Shape s = shape();
  s.erase(s.begin() + d);
  return view(s);
}

// ---------------- copies ----------------
Tensor& Tensor::copy_(const Tensor& src_in) {
  Tensor src = src_in.detach();
  if (src.shape() != shape()) src = src.expand(shape());
  if (device() == src.device()) {
    backend_of(*this).copy(src, *this);
    return *this;
  }
  // Across devices: raw bytes when both sides are dense in the same order and of one dtype; else
  // the source is made contiguous and converted on its own device, sent across, and scattered
  // into this tensor's strides on this device.
  if (is_contiguous() && src.is_contiguous() && dtype() == src.dtype()) {
    copy_bytes(raw(), device(), src.raw(), src.device(), numel() * itemsize());
    return *this;
  }
  Tensor staged_src = src.to(dtype()).contiguous();
  Tensor staged_dst = Tensor::empty(shape(), dtype(), device());
  copy_bytes(staged_dst.raw(), device(), staged_src.raw(), staged_src.device(), numel() * itemsize());
  backend_of(*this).copy(staged_dst, *this);
  return *this;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor out = Tensor::empty(shape(), dtype(), device());
  out.copy_(*this);
  return record("clone", out, {*this}, [](const Tensor& g, GradSink& sink) { sink.add(0, g); });
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor src = is_contiguous() ? *this : contiguous();
  Tensor out = Tensor::empty(shape(), dtype(), dev);
  copy_bytes(out.raw(), dev, src.raw(), device(), numel() * itemsize());
  Device from = device();
  return record("to_device", out, {*this}, [from](const Tensor& g, GradSink& sink) { sink.add(0, g.to(from)); });
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = empty_like_layout(*this, shape(), t);
  out.copy_(*this);
  DType from = dtype();
  if (!is_floating(t) || !is_floating(from)) return out;
  return record("to_dtype", out, {*this}, [from](const Tensor& g, GradSink& sink) { sink.add(0, g.to(from)); });
}

Tensor& Tensor::fill_(double v) {
  backend_of(*this).fill(*this, v);
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  SLIMSSL_CHECK(device() == other.device(), "add_: tensors on ", device().str(), " and ", other.device().str());
  SLIMSSL_CHECK(is_floating(dtype()), "add_: expected a floating-point tensor, got ", dtype_name(dtype()));
  // A float32 addend may go into bfloat16 directly; any other mix is converted first.
  const bool direct = other.dtype() == dtype() || (dtype() == DType::BF16 && other.dtype() == DType::F32);
  Tensor o = direct ? other.detach() : other.detach().to(dtype());
  if (o.shape() != shape()) o = o.expand(shape());
  backend_of(*this).binary(BinaryOp::Add, *this, o, *this, alpha);
  return *this;
}

Tensor& Tensor::mul_(double value) {
  SLIMSSL_CHECK(is_floating(dtype()), "mul_: expected a floating-point tensor, got ", dtype_name(dtype()));
  backend_of(*this).unary(UnaryOp::MulScalar, *this, *this, value);
  return *this;
}

// ---------------- autograd surface ----------------
bool Tensor::requires_grad() const { return impl().requires_grad || impl().grad_fn != nullptr; }

Tensor& Tensor::set_requires_grad(bool on) {
  SLIMSSL_CHECK(is_leaf(), "set_requires_grad: only leaf tensors (no grad_fn) can be marked");
  SLIMSSL_CHECK(!on || is_floating(dtype()), "set_requires_grad: a ", dtype_name(dtype()),
                " tensor cannot require grad");
  impl().requires_grad = on;
  return *this;
}

Tensor Tensor::grad() const { return impl().grad ? Tensor(impl().grad) : Tensor(); }

void Tensor::zero_grad() const {
  if (impl().grad_pinned) Tensor(impl().grad).zero_();
  else impl().grad = nullptr;
}

void Tensor::set_grad(const Tensor& g) const {
  if (!impl().grad_pinned) {
    impl().grad = g.defined() ? g.impl_ptr() : nullptr;
    return;
  }
  Tensor pinned(impl().grad);  // keep the buffer: copy the values in
  if (g.defined()) pinned.copy_(g);
  else pinned.zero_();
}

void Tensor::pin_grad(const Tensor& g) const {
  SLIMSSL_CHECK(g.shape() == shape() && g.dtype() == dtype() && g.device() == device(), "pin_grad: gradient ",
                shape_str(g.shape()), " ", dtype_name(g.dtype()), " on ", g.device().str(), " does not match ",
                shape_str(shape()), " ", dtype_name(dtype()), " on ", device().str());
  impl().grad = g.detach().impl_ptr();
  impl().grad_pinned = true;
}

void Tensor::set_data(const Tensor& src) const {
  SLIMSSL_CHECK(src.shape() == shape() && src.dtype() == dtype(), "set_data: ", shape_str(src.shape()), " ",
                dtype_name(src.dtype()), " cannot replace ", shape_str(shape()), " ", dtype_name(dtype()));
  impl().storage = src.storage();
  impl().offset = src.offset();
  impl().strides = src.strides();
}

Tensor Tensor::detach() const {
  return make_view(*this, shape(), strides(), offset());
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const { run_backward(*this, grad, retain_graph); }
void Tensor::add_hook(GradHook hook) const {
  SLIMSSL_CHECK(is_leaf() && impl().requires_grad, "add_hook: only parameters (leaves requiring grad) take hooks");
  impl().hooks.push_back(std::move(hook));
}
void Tensor::clear_hooks() const { impl().hooks.clear(); }

// ---------------- printing ----------------
double element_as_double(const Tensor& t, int64_t linear) {
  Tensor h = t.device().is_cpu() ? t : t.cpu();
  int64_t off = h.offset();
  for (int64_t d = h.dim() - 1; d >= 0; --d) {
    off += (linear % h.shape()[d]) * h.strides()[d];
    linear /= h.shape()[d];
  }
  return SLIMSSL_DISPATCH_ALL(h.dtype(), "element", [&]() -> double {
    return cpu::convert<double>(static_cast<const scalar_t*>(h.storage()->data)[off]);
  });
}

std::string Tensor::str(int64_t max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  Tensor h = cpu();
  std::ostringstream os;
  os << std::setprecision(5);
  std::function<void(int64_t, int64_t)> walk = [&](int64_t d, int64_t lin) {
    if (d == h.dim()) {
      os << element_as_double(h, lin);
      return;
    }
    os << "[";
    int64_t n = h.shape()[d];
    for (int64_t i = 0; i < n; ++i) {
      if (n > max_per_dim && i == max_per_dim / 2) {
        os << "..., ";
        i = n - max_per_dim / 2;
      }
      walk(d + 1, lin * n + i);
      if (i + 1 < n) os << ", ";
    }
    os << "]";
  };
  walk(0, 0);
  os << ", shape=" << shape_str(shape()) << ", dtype=" << dtype_name(dtype()) << ", device=" << device().str();
  if (requires_grad()) os << ", requires_grad";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace slimssl
