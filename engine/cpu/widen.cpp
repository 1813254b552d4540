#include "engine/cpu/widen.h"
#include "engine/backend.h"

namespace slimssl::cpu {

Tensor widened(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::BF16) return t;
  Tensor w = Tensor::empty(t.shape(), DType::F32, t.device());
  backend_of(t).copy(t, w);
  return w;
}

Tensor widened_output(const Tensor& t) {
  if (!t.defined() || t.dtype() != DType::BF16) return t;
  return Tensor::empty(t.shape(), DType::F32, t.device());
}

void narrow_back(const Tensor& wide, const Tensor& t) {
  if (wide.defined() && !wide.same(t) && wide.storage() != t.storage()) backend_of(t).copy(wide, t);
}

}  // namespace slimssl::cpu
