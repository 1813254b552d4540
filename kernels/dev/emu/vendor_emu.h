// Element access for the emulated vendor libraries (gemm_cublas_emu.cpp, conv_cudnn_emu.cpp):
// every float dtype read as double and written back rounded, so the CPU loops standing in for
// cuBLAS and cuDNN are plain, obviously correct references. See emu_defs.h.
#pragma once
#include <cstdint>
#include "base/dtype.h"
#include "base/error.h"

namespace slimssl::kernels::emu_vendor {

inline double load(DType t, const void* p, int64_t i) {
  switch (t) {
    case DType::F32: return static_cast<const float*>(p)[i];
    case DType::F64: return static_cast<const double*>(p)[i];
    case DType::BF16: return static_cast<float>(static_cast<const bf16*>(p)[i]);
    default: fail("emulated vendor library: unsupported dtype ", dtype_name(t));
  }
}

inline void store(DType t, void* p, int64_t i, double v) {
  switch (t) {
    case DType::F32: static_cast<float*>(p)[i] = static_cast<float>(v); return;
    case DType::F64: static_cast<double*>(p)[i] = v; return;
    case DType::BF16: static_cast<bf16*>(p)[i] = bf16(static_cast<float>(v)); return;
    default: fail("emulated vendor library: unsupported dtype ", dtype_name(t));
  }
}

}  // namespace slimssl::kernels::emu_vendor
