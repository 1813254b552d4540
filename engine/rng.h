// The engine's random numbers are the base layer's counter-based RNG (base/rng.h).
#pragma once
#include "base/rng.h"
