#pragma once
#include "base/dtype.h"

namespace slimssl::cpu {
// Element conversion routing bfloat16 through float32 (base/dtype.h's one rule).
using ::slimssl::convert;
}  // namespace slimssl::cpu
