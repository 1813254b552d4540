#!/usr/bin/env bash
# Runs the custom CUDA kernels' sources and their [cuda] tests on the CPU, through the emulation
# in kernels/dev/emu/ (a cooperative thread per CUDA thread, barriers for __syncthreads, a reference wmma,
# naive stand-ins for cuBLAS and the cuDNN path). For a machine without a GPU: it finds indexing,
# ordering and layout mistakes, not races or performance. Slow: about a minute for the tests.
#
#   scripts/emulate_kernels.sh [catch2 filter, default "[cuda]"]
#   scripts/emulate_kernels.sh --workbenches    both workbenches end to end at toy sizes (--tiny)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${EMU_BUILD:-build-emu}
EMU=kernels/dev/emu
CXX=${CXX:-g++}
FLAGS=(-std=c++20 -O1 -g -fno-strict-aliasing -pthread -DSLIMSSL_WITH_CUDA=1 -I"$EMU" -I. -w)
mkdir -p "$OUT"

# compile SRC: object in $OUT, rebuilt when the source or the emulation changed (in the background).
pids=()
compile() {
  local src=$1 o="$OUT/$(basename "${1%.*}").o"
  if [[ ! -f "$o" || "$src" -nt "$o" || -n "$(find "$EMU" -newer "$o" -print -quit)" ]]; then
    "$CXX" "${FLAGS[@]}" -c "$src" -o "$o" &
    pids+=($!)
  fi
}
emulated() {  # the .cu rewritten for the emulation, as $OUT/NAME.emu.cpp
  local name=$1 src=$2
  if [[ ! -f "$OUT/$name.emu.cpp" || "$src" -nt "$OUT/$name.emu.cpp" || "$EMU/preprocess.py" -nt "$OUT/$name.emu.cpp" ]]; then
    python3 "$EMU/preprocess.py" "$src" "$OUT/$name.emu.cpp"
  fi
  compile "$OUT/$name.emu.cpp"
}
wait_all() { for p in "${pids[@]}"; do wait "$p"; done; pids=(); }

emulated infonce kernels/infonce.cu
emulated sliced_conv kernels/sliced_conv.cu
emulated optimizer_step kernels/optimizer_step.cu
compile "$EMU/emu_runtime.cpp"
LIB=("$OUT/infonce.emu.o" "$OUT/sliced_conv.emu.o" "$OUT/optimizer_step.emu.o" "$OUT/emu_runtime.o")

if [[ "${1:-}" == "--workbenches" ]]; then
  emulated infonce_dev kernels/dev/infonce_dev.cu
  emulated sliced_conv_dev kernels/dev/sliced_conv_dev.cu
  wait_all
  "$CXX" -pthread "${LIB[@]}" "$OUT/infonce_dev.emu.o" -o "$OUT/infonce_dev"
  "$CXX" -pthread "${LIB[@]}" "$OUT/sliced_conv_dev.emu.o" -o "$OUT/sliced_conv_dev"
  "$OUT/infonce_dev" --tiny "$OUT/infonce.json"
  "$OUT/sliced_conv_dev" --tiny "$OUT/sliced_conv.json"
  exit 0
fi

compile tests/test_cuda_kernels.cpp
compile tests/test_cuda_optimizer.cpp
compile tests/main.cpp
wait_all
"$CXX" -pthread "${LIB[@]}" "$OUT/test_cuda_kernels.o" "$OUT/test_cuda_optimizer.o" "$OUT/main.o" -o "$OUT/emulated_tests"
"$OUT/emulated_tests" "${1:-[cuda]}"
