// The engine's element types are the base layer's (base/dtype.h).
#pragma once
#include "base/dtype.h"
#include "base/error.h"
