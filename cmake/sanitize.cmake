# Checking builds, both off by default and never part of the Release build:
#  - SLIMSSL_SANITIZE=address,undefined: every C++ target under those sanitizers, UBSan made
#    fatal, so CI's second test run (scripts/sanitize.sh) fails on the first report;
#  - SLIMSSL_FUZZ=ON: the libFuzzer targets in tests/fuzz (clang only; scripts/fuzz.sh), with the
#    libraries compiled for coverage feedback.
set(SLIMSSL_SANITIZE "" CACHE STRING "Sanitizers for every target, e.g. address,undefined (empty: none)")
option(SLIMSSL_FUZZ "Build the libFuzzer targets in tests/fuzz (needs clang)" OFF)
if(SLIMSSL_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-fsanitize=${SLIMSSL_SANITIZE}>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-sanitize-recover=all>
                      $<$<COMPILE_LANGUAGE:CXX>:-fno-omit-frame-pointer> $<$<COMPILE_LANGUAGE:CXX>:-g>)
  add_link_options(-fsanitize=${SLIMSSL_SANITIZE})
endif()
if(SLIMSSL_FUZZ AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "SLIMSSL_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
endif()
# (Coverage feedback is compiled into the fuzzed decoders only, see tests/fuzz/CMakeLists.txt:
# everywhere it would slow the sanitized test suite several times over.)
