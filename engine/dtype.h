// Element types. bfloat16 is a storage type here: CPU ops compute in float32 or float64 and
// convert at the boundary; the CUDA backend computes in it on tensor cores.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>

namespace slimssl {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, U8 };

struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  // Round to nearest even, NaN kept quiet: the same rule the GPU's cvt.rn.bf16 uses.
  explicit bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
      bits = static_cast<uint16_t>((u >> 16) | 0x40);
    } else {
      u += 0x7fffu + ((u >> 16) & 1u);
      bits = static_cast<uint16_t>(u >> 16);
    }
  }
  explicit operator float() const {
    uint32_t u = static_cast<uint32_t>(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

inline size_t dtype_size(DType t) {
  switch (t) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
    case DType::U8: return 1;
  }
  return 0;
}

inline const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "float32";
    case DType::F64: return "float64";
    case DType::BF16: return "bfloat16";
    case DType::I32: return "int32";
    case DType::I64: return "int64";
    case DType::U8: return "uint8";
  }
  return "?";
}

inline bool is_floating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::BF16; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

}  // namespace slimssl

// Calls the body with `scalar_t` bound to the C++ type of a floating dtype that CPU ops compute in.
#define SLIMSSL_DISPATCH_FLOAT(dtype, opname, ...)                                         \
  [&] {                                                                                     \
    switch (dtype) {                                                                        \
      case ::slimssl::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }         \
      case ::slimssl::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }        \
      default:                                                                              \
        ::slimssl::fail(opname, ": expected a float32 or float64 tensor, got ",             \
                        ::slimssl::dtype_name(dtype));                                      \
    }                                                                                       \
  }()

// Any dtype.
#define SLIMSSL_DISPATCH_ALL(dtype, opname, ...)                                            \
  [&] {                                                                                     \
    switch (dtype) {                                                                        \
      case ::slimssl::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }         \
      case ::slimssl::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }        \
      case ::slimssl::DType::BF16: { using scalar_t = ::slimssl::bf16; return __VA_ARGS__(); } \
      case ::slimssl::DType::I32: { using scalar_t = int32_t; return __VA_ARGS__(); }       \
      case ::slimssl::DType::I64: { using scalar_t = int64_t; return __VA_ARGS__(); }       \
      case ::slimssl::DType::U8: { using scalar_t = uint8_t; return __VA_ARGS__(); }        \
    }                                                                                       \
    ::slimssl::fail(opname, ": unknown dtype");                                             \
  }()
