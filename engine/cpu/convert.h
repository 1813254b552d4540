#pragma once
#include <type_traits>
#include "engine/dtype.h"

namespace slimssl::cpu {

// Element conversion that routes bfloat16 through float32.
template <class To, class From>
inline To convert(From v) {
  if constexpr (std::is_same_v<To, From>) return v;
  else if constexpr (std::is_same_v<From, bf16>) return convert<To>(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, bf16>) return bf16(static_cast<float>(v));
  else return static_cast<To>(v);
}

}  // namespace slimssl::cpu
