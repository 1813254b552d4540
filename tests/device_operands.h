// Operands for testing a backend's primitives (on its own device, the CPU's included): tensors
// placed as views inside larger, poisoned buffers, read back with a check that nothing outside the
// view changed.
//
// Every buffer starts as all bytes 0xFF (NaN in float32, float64 and bfloat16; -1 in the integer
// types) except where a view's values are written. A kernel that reads outside its input view sees
// NaN (or an index of -1) and fails the comparison; one that writes outside its output view fails
// the guard check (`read` compares every byte of the buffer outside the view, the guard regions
// before and after and the gaps inside a strided view); an output element it forgets stays NaN.
//
// Bytes move through the backend's own copy_bytes, ordered after the work queued on the device's
// stream.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>
#include "engine/backend.h"

namespace slimssl::test {

// How a logical shape is laid out in its buffer.
enum class Layout {
  Contiguous,  // row-major, 16 guard elements each side (so 16-byte aligned for every dtype)
  Misaligned,  // row-major, 3 guard elements before (not 16-byte aligned), 16 after
  Padded,      // row-major in a buffer one larger in every dimension: gaps between rows and planes
  Transposed,  // column-major (reversed strides): dense but not row-major
  Broadcast,   // stride 0 in dimension 0 (an input only): every slice along it is the first one
};

inline const char* layout_name(Layout l) {
  switch (l) {
    case Layout::Contiguous: return "contiguous";
    case Layout::Misaligned: return "misaligned";
    case Layout::Padded: return "padded";
    case Layout::Transposed: return "transposed";
    case Layout::Broadcast: return "broadcast";
  }
  return "?";
}

// Element i of a typed array, as a double (exact for every dtype at the magnitudes tests use).
inline double load_element(DType t, const void* base, int64_t i) {
  return SLIMSSL_DISPATCH_ALL(t, "load_element", [&]() -> double {
    return convert<double>(static_cast<const scalar_t*>(base)[i]);
  });
}
inline void store_element(DType t, void* base, int64_t i, double v) {
  SLIMSSL_DISPATCH_ALL(t, "store_element", [&] { static_cast<scalar_t*>(base)[i] = convert<scalar_t>(v); });
}
// The value v takes once stored as dtype t.
inline double as_dtype(DType t, double v) {
  unsigned char b[8];
  store_element(t, b, 0, v);
  return load_element(t, b, 0);
}

// The logical values a view of `layout` holds after place(values, shape, ...): the values
// themselves, or for Broadcast slice 0 along dimension 0 repeated.
inline std::vector<double> held_values(const std::vector<double>& values, const Shape& shape, Layout layout) {
  if (layout != Layout::Broadcast || shape.empty() || values.empty()) return values;
  const size_t slice = values.size() / static_cast<size_t>(shape[0]);
  std::vector<double> v(values.size());
  for (size_t i = 0; i < v.size(); ++i) v[i] = values[i % slice];
  return v;
}

struct Placed {
  Tensor buffer;                // 1-d, on the device: the view and everything around it
  Tensor view;                  // the operand
  std::vector<uint8_t> before;  // the buffer's bytes when placed
  std::vector<double> values;   // the view's logical values (row-major) when placed
};

class DeviceOperands {
 public:
  DeviceOperands(Backend& backend, Device device) : be_(backend), device_(device) {}
  Backend& backend() { return be_; }

  // A view of `shape` holding `values` (row-major logical order; rounded to t). For Broadcast,
  // slice 0 of dimension 0 is stored and repeated: `values` of the result says what the view holds.
  Placed place(const std::vector<double>& values, const Shape& shape, DType t, Layout l) {
    Placed p = poisoned(shape, t, l);
    const int64_t n = numel_of(shape);
    for (int64_t i = n - 1; i >= 0; --i)  // backwards: where elements share memory, the first one stays
      store_element(t, p.before.data(), offset_of(p.view, i), values[i]);
    upload(p);
    p.values.resize(n);
    for (int64_t i = 0; i < n; ++i) p.values[i] = load_element(t, p.before.data(), offset_of(p.view, i));
    return p;
  }

  // An output view: poison everywhere.
  Placed output(const Shape& shape, DType t, Layout l) {
    Placed p = poisoned(shape, t, l);
    upload(p);
    return p;
  }

  struct ReadBack {
    std::vector<double> values;  // the view's logical values now
    int64_t guard_errors = 0;    // elements outside the view whose bytes changed
  };
  ReadBack read(const Placed& p) {
    const size_t item = dtype_size(p.view.dtype());
    std::vector<uint8_t> now(p.before.size());
    be_.copy_bytes(now.data(), false, p.buffer.raw(), device_.is_cuda(), now.size());
    const int64_t n = p.view.numel();
    std::vector<bool> inside(now.size() / item, false);
    ReadBack r;
    r.values.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t o = offset_of(p.view, i);
      inside[o] = true;
      r.values[i] = load_element(p.view.dtype(), now.data(), o);
    }
    for (size_t e = 0; e < inside.size(); ++e)
      if (!inside[e] && std::memcmp(&now[e * item], &p.before[e * item], item) != 0) ++r.guard_errors;
    return r;
  }

  // The offset (in elements, from the buffer's start) of logical element i of a view.
  static int64_t offset_of(const Tensor& view, int64_t i) {
    int64_t off = view.offset();
    for (int64_t d = view.dim() - 1; d >= 0; --d) {
      off += (i % view.size(d)) * view.stride(d);
      i /= view.size(d);
    }
    return off;
  }

 private:
  Placed poisoned(const Shape& shape, DType t, Layout l) {
    const int64_t rank = static_cast<int64_t>(shape.size());
    Shape strides(rank, 0);
    int64_t lead = 16, span = 1;
    if (l == Layout::Misaligned) lead = 3;
    if (l == Layout::Transposed) {
      for (int64_t d = 0; d < rank; ++d) strides[d] = span, span *= shape[d];
    } else {
      for (int64_t d = rank - 1; d >= 0; --d) {
        const bool broadcast = l == Layout::Broadcast && d == 0;
        strides[d] = broadcast ? 0 : span;
        if (!broadcast) span *= shape[d] + (l == Layout::Padded ? 1 : 0);
      }
    }
    Placed p;
    const int64_t total = lead + span + 16;
    p.buffer = Tensor::empty({total}, t, device_);
    p.view = p.buffer.as_strided(shape, strides, lead);
    p.before.assign(static_cast<size_t>(total) * dtype_size(t), 0xFF);
    return p;
  }

  void upload(const Placed& p) {
    be_.copy_bytes(p.buffer.raw(), device_.is_cuda(), p.before.data(), false, p.before.size());
  }

  Backend& be_;
  Device device_;
};

// Counts the elements where got and want differ by more than tol[i] (NaN matches NaN, and equal
// infinities match), and describes the first few.
inline int64_t mismatches(const std::vector<double>& got, const std::vector<double>& want,
                          const std::vector<double>& tol, std::string& report) {
  int64_t bad = 0;
  std::ostringstream os;
  os.precision(9);
  for (size_t i = 0; i < want.size(); ++i) {
    const bool both_nan = std::isnan(got[i]) && std::isnan(want[i]);
    if (both_nan || got[i] == want[i] || std::abs(got[i] - want[i]) <= tol[i]) continue;
    if (++bad <= 4) os << "[" << i << "] got " << got[i] << " want " << want[i] << " (tolerance " << tol[i] << "); ";
  }
  report = os.str();
  return bad;
}

// Values in [lo, hi), rounded to t.
inline std::vector<double> random_values(std::mt19937& gen, int64_t n, double lo, double hi, DType t) {
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = as_dtype(t, u(gen));
  return v;
}

}  // namespace slimssl::test
