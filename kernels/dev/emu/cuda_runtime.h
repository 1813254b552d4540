// Emulated <cuda_runtime.h>. See emu_defs.h.
#pragma once
#include "cuda_runtime_api.h"
