// Tensor: a shared handle to (storage, element offset, shape, element strides, dtype) plus the
// autograd metadata. Views share storage; copying a Tensor copies the handle, not the data.
//
// Strides are counted in elements (PyTorch's convention); the byte stride is stride * itemsize.
// Layout is purely a property of the strides, so a channel slice W[:k_out, :k_in] of a weight is a
// Tensor with the parent's strides and no copy.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
#include "engine/device.h"
#include "engine/dtype.h"
#include "engine/error.h"
#include "engine/storage.h"

namespace slimssl {

using Shape = std::vector<int64_t>;
int64_t numel_of(const Shape& shape);
Shape contiguous_strides(const Shape& shape);

class Tensor;
struct Node;

// Called with the gradient one backward pass contributes to a parameter, and the region of the
// parameter's .grad it is added into (same shape; a slice when the parameter was used through a
// view). Diagnostics use it to see each width's contribution.
using GradHook = std::function<void(const Tensor& contribution, const Tensor& destination)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape shape;
  Shape strides;  // in elements
  DType dtype = DType::F32;
  bool requires_grad = false;             // set on leaves (parameters)
  std::shared_ptr<TensorImpl> grad;       // accumulated gradient of a leaf
  std::shared_ptr<Node> grad_fn;          // the op that produced a non-leaf
  std::vector<GradHook> hooks;
  std::string name;
  bool grad_pinned = false;  // .grad is a fixed buffer (FlatParameters): zeroed, never dropped
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- construction (all contiguous) ----
  static Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = {});
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32, Device device = {});
  static Tensor ones(const Shape& shape, DType dtype = DType::F32, Device device = {});
  static Tensor full(const Shape& shape, double value, DType dtype = DType::F32, Device device = {});
  static Tensor scalar(double value, DType dtype = DType::F32, Device device = {});
  static Tensor arange(int64_t n, DType dtype = DType::F32, Device device = {});
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape, Device device = {});
  static Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), t.dtype(), t.device()); }
  static Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }

  // ---- metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Shape& strides() const { return impl().strides; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl().shape.size()); }
  int64_t numel() const { return numel_of(impl().shape); }
  int64_t offset() const { return impl().offset; }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device; }
  size_t itemsize() const { return dtype_size(dtype()); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  TensorImpl& impl() const;
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }
  const std::string& name() const { return impl().name; }
  Tensor& set_name(std::string n) { impl().name = std::move(n); return *this; }

  // Raw element pointer at the view's offset (host tensors only for typed access).
  void* raw() const;
  template <class T> T* data() const;
  template <class T> T item() const;   // value of a one-element tensor, converted
  double item() const { return item<double>(); }
  template <class T> std::vector<T> to_vector() const;  // logical order, converted

  // ---- views (zero-copy; differentiable) ----
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end) const { return narrow(dim, start, end - start); }
  Tensor select(int64_t dim, int64_t index) const;
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const { return transpose(0, 1); }
  Tensor expand(const Shape& shape) const;
  Tensor view(const Shape& shape) const;      // throws if the strides do not allow it
  Tensor reshape(const Shape& shape) const;   // view when possible, else a copy
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor squeeze(int64_t dim) const;
  // Geometry given directly, relative to this tensor's storage; not differentiable.
  Tensor as_strided(const Shape& shape, const Shape& strides, int64_t offset) const;

  // ---- copies and conversion ----
  Tensor contiguous() const;  // differentiable; returns *this when already contiguous
  Tensor clone() const;       // differentiable copy
  Tensor to(Device device) const;
  Tensor to(DType dtype) const;
  Tensor cpu() const { return to(Device::cpu()); }

  // ---- in-place (not recorded by autograd: for optimizers, initializers, buffers) ----
  Tensor& copy_(const Tensor& src);   // broadcasts src; converts dtype; any device pair
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double value);

  // ---- autograd ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool on = true);
  bool is_leaf() const { return impl().grad_fn == nullptr; }
  Tensor grad() const;  // undefined if none accumulated yet
  // Drops the gradient, or zeroes it in place when it is pinned.
  void zero_grad() const;
  void set_grad(const Tensor& g) const;
  // Makes `g` (this tensor's shape and dtype, usually a slice of a flat buffer) this leaf's
  // gradient for good: backward passes add into it and zero_grad zeroes it in place.
  void pin_grad(const Tensor& g) const;
  // Replaces this tensor's data with `src`'s (same shape and dtype) in place: every holder of
  // this tensor sees the new storage. For moving parameters and buffers (to a device, into a
  // flat buffer); not recorded.
  void set_data(const Tensor& src) const;
  Tensor detach() const;  // same data, no history
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;
  void add_hook(GradHook hook) const;
  void clear_hooks() const;
  const std::shared_ptr<Node>& grad_fn() const { return impl().grad_fn; }

  std::string str(int64_t max_per_dim = 6) const;  // readable printing

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// A tensor of the same shape with its logical elements visited in order: helper for tests/printing.
double element_as_double(const Tensor& t, int64_t linear_index);

// ---- template definitions ----
template <class T>
T* Tensor::data() const {
  SLIMSSL_CHECK(dtype_of<T>::value == dtype(), "data<", dtype_name(dtype_of<T>::value),
                ">() on a ", dtype_name(dtype()), " tensor");
  return static_cast<T*>(raw());
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device) {
  SLIMSSL_CHECK(static_cast<int64_t>(values.size()) == numel_of(shape), "from_vector: ",
                values.size(), " values for shape ", shape_str(shape));
  Tensor host = empty(shape, dtype_of<T>::value);
  std::copy(values.begin(), values.end(), host.data<T>());
  return device.is_cpu() ? host : host.to(device);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor c = cpu().contiguous();
  std::vector<T> out(c.numel());
  SLIMSSL_DISPATCH_ALL(c.dtype(), "to_vector", [&] {
    const scalar_t* p = c.data<scalar_t>();
    for (size_t i = 0; i < out.size(); ++i) {
      if constexpr (std::is_same_v<scalar_t, bf16>) out[i] = static_cast<T>(static_cast<float>(p[i]));
      else out[i] = static_cast<T>(p[i]);
    }
  });
  return out;
}

template <class T>
T Tensor::item() const {
  SLIMSSL_CHECK(numel() == 1, "item(): expected a one-element tensor, got shape ", shape_str(shape()));
  return to_vector<T>()[0];
}

}  // namespace slimssl
