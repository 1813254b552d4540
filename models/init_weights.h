// Reference-implementation initialization of a whole module tree.
#pragma once
#include "models/module.h"

namespace slimssl::models {

enum class ConvInit { KaimingNormalFanOut, KaimingUniformFanIn };
enum class LinearInit { Normal001, TruncNormal002, KaimingUniformFanIn, XavierUniform };

struct InitScheme {
  ConvInit conv = ConvInit::KaimingNormalFanOut;
  LinearInit linear = LinearInit::Normal001;
};

// Convs and linears by the scheme (biases zero); norms weight 1, bias 0; running stats reset.
// Each tensor draws from its own stream (seed, index in named_parameters order), so the
// initialization does not depend on thread count or device.
void init_module(Module& m, uint64_t seed, const InitScheme& scheme);

}  // namespace slimssl::models
