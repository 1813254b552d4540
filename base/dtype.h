// Element types, shared by every layer (the engine's tensors and the plain-pointer CUDA kernels).
//
// bfloat16 is stored as its 16 raw bits (the same bits as CUDA's __nv_bfloat16). The conversion
// from float32 rounds to nearest even and keeps NaN quiet, the rule of the GPU's cvt.rn.bf16.f32:
// this is the project's one bf16 rounding, used on the host and in device code alike.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include "base/hd.h"

namespace slimssl {

enum class DType : uint8_t { F32, F64, BF16, I32, I64, U8 };

SLIMSSL_HD uint32_t float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

SLIMSSL_HD float bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

// float32 -> bfloat16 bits: round to nearest, ties to even; NaN stays a (quiet) NaN.
SLIMSSL_HD uint16_t bf16_bits_from_float(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

SLIMSSL_HD float float_from_bf16_bits(uint16_t b) { return bits_float(static_cast<uint32_t>(b) << 16); }

struct bf16 {
  uint16_t bits = 0;
  bf16() = default;
  SLIMSSL_HD explicit bf16(float f) : bits(bf16_bits_from_float(f)) {}
  SLIMSSL_HD explicit operator float() const { return float_from_bf16_bits(bits); }
};

// The value a float32 takes once stored as bfloat16.
SLIMSSL_HD float round_bf16(float f) { return float_from_bf16_bits(bf16_bits_from_float(f)); }

SLIMSSL_HD size_t dtype_size(DType t) {
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

SLIMSSL_HD bool is_floating(DType t) { return t == DType::F32 || t == DType::F64 || t == DType::BF16; }

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::F32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::F64; };
template <> struct dtype_of<bf16> { static constexpr DType value = DType::BF16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::I32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::I64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::U8; };

// The type arithmetic on an element type is done in: float for float32 and bfloat16, double for
// float64.
template <class T> struct compute_type { using type = float; };
template <> struct compute_type<double> { using type = double; };

// Element conversion for every pair of element types; bfloat16 goes through float32.
template <class To, class From>
SLIMSSL_HD To convert(From v) {
  if constexpr (std::is_same_v<To, From>) return v;
  else if constexpr (std::is_same_v<From, bf16>) return convert<To>(static_cast<float>(v));
  else if constexpr (std::is_same_v<To, bf16>) return bf16(static_cast<float>(v));
  else return static_cast<To>(v);
}

}  // namespace slimssl

// Host-only dispatch over element types: calls the body with `scalar_t` bound to the C++ type.
// (They throw through slimssl::fail, so base/error.h must be included where they are used.)

// Float dtypes the CPU computes in.
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

// Every float dtype, bfloat16 included.
#define SLIMSSL_DISPATCH_FLOAT_BF16(dtype, opname, ...)                                    \
  [&] {                                                                                     \
    switch (dtype) {                                                                        \
      case ::slimssl::DType::F32: { using scalar_t = float; return __VA_ARGS__(); }         \
      case ::slimssl::DType::F64: { using scalar_t = double; return __VA_ARGS__(); }        \
      case ::slimssl::DType::BF16: { using scalar_t = ::slimssl::bf16; return __VA_ARGS__(); } \
      default:                                                                              \
        ::slimssl::fail(opname, ": expected a floating-point tensor, got ",                 \
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
