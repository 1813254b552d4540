// The engine's errors are the base layer's (base/error.h).
#pragma once
#include "base/error.h"
