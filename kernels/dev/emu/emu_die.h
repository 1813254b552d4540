// The emulation's one fatal error: what a GPU would reject or hang on (see emu_defs.h), printed
// with the emulation's prefix, then abort.
#pragma once
#include <cstdio>
#include <cstdlib>

namespace emu {

[[noreturn]] inline void die(const char* what) {
  std::fprintf(stderr, "emu: %s\n", what);
  std::abort();
}

}  // namespace emu
