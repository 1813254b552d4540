#!/usr/bin/env bash
# Packs everything the GPU check needs into one folder that travels to a GPU machine as a `carry`
# path of the device tool (docs/gpu.md), so nothing is configured or built there:
#   bin/*.xz        the CUDA build's binaries (Release, sm_90), stripped and xz-compressed:
#                   slimssl_tests, the slimssl CLI and every kernel workbench (kernels/dev/*_dev.cu)
#   lib/            the shared libraries they load that a stock CUDA image may lack (found with
#                   ldd; cuBLAS and cuDNN are not packed: they come from PyTorch's wheels there)
#   scripts/        gpu_check.sh and gpu_summary.py, as they were when the binaries were built
#   configs/, benchmarks/peer/ (when present), data/cifar10/ (from ../shared/data/cifar10)
#   deps.tar.xz     headers and CMake files for gpu_check.sh --build, the fallback that builds there
#   BUNDLE_INFO, MANIFEST   what was built, and the size and sha256 of every file (checked there)
# It refuses a bundle over LIMIT_MIB (counting DATA_RESERVE_MIB for the CIFAR-10 archives when
# they are absent here, so a check without them still sees the real margin) and prints the one
# `run` call to use.
#
#   scripts/gpu_bundle.sh
#
# Environment: BUILD (build directory to reuse or create, default build: an existing one must be a
# Release build with CUDA), BUNDLE (default .carry/gpu), CIFAR_DIR (default ../shared/data/cifar10),
# LIMIT_MIB (60), DATA_RESERVE_MIB (20), XZ_LEVEL (6).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
BUNDLE=${BUNDLE:-.carry/gpu}
CIFAR_DIR=${CIFAR_DIR:-../shared/data/cifar10}
LIMIT_MIB=${LIMIT_MIB:-60}
DATA_RESERVE_MIB=${DATA_RESERVE_MIB:-20}
XZ_LEVEL=${XZ_LEVEL:-6}
MIB=1048576

# Libraries every Linux has (glibc, the C++ runtime, zlib) and those the GPU machine's PyTorch
# installation provides (cuBLAS, cuDNN) or its driver (libcuda): never packed.
SYSTEM_LIBS='^(linux-vdso|ld-linux-x86-64|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libz)\.so'
FROM_PYTORCH='^(libcublas|libcublasLt|libcudnn[a-z_]*|libcuda|libnvrtc|libnvJitLink)\.so'

die() { echo "gpu_bundle: $*" >&2; exit 1; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
# The GPU code the build compiles, read from its build rules: the entries matching $1 (sm_90).
cuda_code() {
  { cat "$BUILD/build.ninja" "$BUILD"/kernels/CMakeFiles/*/flags.make 2>/dev/null || true; } |
    grep -o 'code=\[[^]]*\]' | sort -u | grep -e "${1:-sm_90}" | paste -sd' '
}

# --- build (or reuse) a Release build with CUDA for sm_90 ---------------------------------------
ensure_build() {
  if [[ -f "$BUILD/CMakeCache.txt" ]]; then
    [[ "$(cache_value CMAKE_BUILD_TYPE)" == Release ]] ||
      die "$BUILD is a '$(cache_value CMAKE_BUILD_TYPE)' build; the bundle needs Release (use another BUILD=)"
    # CUDNN_LIBRARY is looked for only when the CUDA backend is on (cmake/cuda.cmake).
    [[ -n "$(cache_value CUDNN_LIBRARY)" && "$(cache_value SLIMSSL_CUDA)" != OFF ]] ||
      die "$BUILD was configured without CUDA (is nvcc installed? SLIMSSL_CUDA=$(cache_value SLIMSSL_CUDA))"
    cuda_code >/dev/null || die "$BUILD does not compile CUDA for sm_90 (the H200); its CUDA targets: $(cuda_code . || true)"
  else
    command -v ccache >/dev/null && export CMAKE_CXX_COMPILER_LAUNCHER=ccache \
      CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CUDA_COMPILER_LAUNCHER=ccache
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSLIMSSL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90
  fi
  cmake --build "$BUILD" -j "$(nproc)" --target "${BINARIES[@]}"
}

# --- pieces of the bundle -----------------------------------------------------------------------
pack_binaries() {  # stripped, then xz (unpacked on the GPU machine in about a second)
  mkdir -p "$STAGE/bin"
  for b in "${BINARIES[@]}"; do
    [[ -x "$BUILD/bin/$b" ]] || die "$BUILD/bin/$b was not built"
    strip -o "$STAGE/bin/$b" "$BUILD/bin/$b"
  done
  xz -T0 "-$XZ_LEVEL" "$STAGE"/bin/*
}

pack_libraries() {  # what ldd resolves outside SYSTEM_LIBS and FROM_PYTORCH
  mkdir -p "$STAGE/lib"
  local line name path
  while read -r line; do
    [[ "$line" == *"not found"* ]] && die "ldd: a library of the build is missing here: $line"
    [[ "$line" =~ ^([^[:space:]]+)\ =\>\ ([^[:space:]]+) ]] || continue
    name=${BASH_REMATCH[1]} path=${BASH_REMATCH[2]}
    [[ "$name" =~ $SYSTEM_LIBS || "$name" =~ $FROM_PYTORCH || -f "$STAGE/lib/$name" ]] && continue
    cp -L "$path" "$STAGE/lib/$name"
    echo "  packed $name (from $path)"
  done < <(for b in "${BINARIES[@]}"; do ldd "$BUILD/bin/$b"; done | sed 's/^[[:space:]]*//' | sort -u)
}

pack_files() {  # the check's scripts, configs, the peer scripts when they exist, CIFAR-10
  mkdir -p "$STAGE/scripts" "$STAGE/configs"
  cp scripts/gpu_check.sh scripts/gpu_summary.py "$STAGE/scripts/"
  cp configs/*.json "$STAGE/configs/"
  if [[ -d benchmarks/peer ]]; then
    mkdir -p "$STAGE/benchmarks" && cp -r benchmarks/peer "$STAGE/benchmarks/"
  fi
  DATA_NOTE="CIFAR-10 archives from $CIFAR_DIR"
  if [[ -f "$CIFAR_DIR/cifar10-train-jpeg.tar.gz" && -f "$CIFAR_DIR/cifar10-test-jpeg.tar.gz" ]]; then
    mkdir -p "$STAGE/data/cifar10"
    cp "$CIFAR_DIR"/cifar10-{train,test}-jpeg.tar.gz "$STAGE/data/cifar10/"
    [[ -f "$CIFAR_DIR/SHA256SUMS" ]] && cp "$CIFAR_DIR/SHA256SUMS" "$STAGE/data/cifar10/"
    RESERVE=0
  else
    DATA_NOTE="no CIFAR-10 archives at $CIFAR_DIR: not packed (stages that need them report 'not available'); $DATA_RESERVE_MIB MiB reserved for them in the size check"
    RESERVE=$((DATA_RESERVE_MIB * MIB))
  fi
  echo "  $DATA_NOTE"
}

pack_build_deps() {  # for gpu_check.sh --build: the libraries' headers and CMake files as a prefix
  local d="$WORKDIR/deps" libdir=/usr/lib/x86_64-linux-gnu
  mkdir -p "$d/include" "$d/lib/cmake" "$d/share/cmake"
  cp -r /usr/include/catch2 /usr/include/nlohmann /usr/include/stb /usr/include/zlib.h /usr/include/zconf.h "$d/include/"
  cp -r /usr/lib/cmake/Catch2 "$d/lib/cmake/" && cp /usr/lib/libCatch2WithMain.a "$d/lib/"
  cp -r /usr/share/cmake/nlohmann_json "$d/share/cmake/"
  cp -L "$libdir/libstb.so.0" "$d/lib/" && ln -s libstb.so.0 "$d/lib/libstb.so"
  # zlib: a link-time name for the GPU machine's own libz.so.1 (every Linux has one).
  ln -s "$libdir/libz.so.1" "$d/lib/libz.so"
  tar -C "$WORKDIR" -cf - deps | xz -T0 "-$XZ_LEVEL" >"$STAGE/deps.tar.xz"
}

write_info_and_manifest() {
  {
    echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "build_dir=$BUILD"
    echo "cuda_code=$(cuda_code)"
    echo "nvcc=$(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')"
    echo "binaries=${BINARIES[*]}"
    echo "limit_mib=$LIMIT_MIB"
    echo "reserve_bytes=$RESERVE"
    echo "data=$DATA_NOTE"
  } >"$STAGE/BUNDLE_INFO"
  (cd "$STAGE" && find . -type f ! -name MANIFEST -printf '%P\n' | sort | while read -r f; do
    printf '%s %s %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "$f"
  done) >"$STAGE/MANIFEST"
}

# --- main ---------------------------------------------------------------------------------------
BINARIES=(slimssl_tests slimssl)
for src in kernels/dev/*_dev.cu; do BINARIES+=("$(basename "$src" .cu)"); done

t0=$SECONDS
ensure_build
WORKDIR=$(mktemp -d)
trap 'rm -rf "$WORKDIR"' EXIT
STAGE="$WORKDIR/bundle"
mkdir -p "$STAGE"
echo "gpu_bundle: packing ${BINARIES[*]} from $BUILD"
pack_binaries
pack_libraries
pack_files
pack_build_deps
write_info_and_manifest

total=$(awk '{ s += $1 } END { print s }' "$STAGE/MANIFEST")
counted=$((total + RESERVE))
for part in bin lib data scripts configs deps.tar.xz; do
  [[ -e "$STAGE/$part" ]] && printf '  %-12s %8s MiB\n' "$part" "$(mib "$(du -sb "$STAGE/$part" | cut -f1)")"
done
printf '  %-12s %8s MiB (limit %s MiB%s)\n' total "$(mib "$total")" "$LIMIT_MIB" \
  "$( ((RESERVE)) && echo ", counted with the data reserve: $(mib $counted) MiB")"
((counted <= LIMIT_MIB * MIB)) || die "the bundle is over its limit: $(mib $counted) MiB > $LIMIT_MIB MiB"

rm -rf "$BUNDLE"
mkdir -p "$(dirname "$BUNDLE")"
cp -r "$STAGE" "$BUNDLE"
echo "gpu_bundle: $BUNDLE ready in $((SECONDS - t0)) s"

# The device tool runs in the repository root and carries paths relative to it.
rel=$(realpath --relative-to="$ROOT" "$BUNDLE")
case "$rel" in ../*) echo "warning: $BUNDLE is outside the repository; the device tool carries only paths inside it" >&2 ;; esac
git check-ignore -q "$rel" 2>/dev/null ||
  echo "warning: $rel is not git-ignored: it would travel as part of the working tree too" >&2
echo
echo "Run it on the GPU machine (docs/gpu.md) with the device tool's run call:"
echo "  command:   bash $rel/scripts/gpu_check.sh \"\$OUT\""
echo "  carry:     [\"$rel\"]"
echo "  timeout_s: 330   (stages: BUDGET_S=300; room for a rerun in a 15-minute window)"
