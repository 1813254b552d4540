// Element types of the custom kernels' inputs. kernels/ sits below the engine, so it names its own
// (the engine maps DType::F32 / DType::BF16 onto these). bfloat16 data is passed as raw 16-bit
// words (the engine's slimssl::bf16, CUDA's __nv_bfloat16: the same bits).
#pragma once

namespace slimssl::kernels {

enum class ElemType { F32, BF16 };

inline const char* elem_type_name(ElemType t) { return t == ElemType::F32 ? "float32" : "bfloat16"; }
inline int elem_size(ElemType t) { return t == ElemType::F32 ? 4 : 2; }

}  // namespace slimssl::kernels
