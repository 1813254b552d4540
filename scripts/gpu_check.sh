#!/usr/bin/env bash
# The GPU check: configure and build with CUDA, run the CUDA tests, both kernel workbenches
# (validation + benchmark tables as JSON), the CUDA tests under compute-sanitizer memcheck and the
# whole ctest suite, then write OUTDIR/summary.json and OUTDIR/summary.txt (device, pass/fail
# counts, both tables) and OUTDIR/logs.txt. Five files in OUTDIR, so it fits the device tool's
# $OUT (at most 8 files come back).
#
#   scripts/gpu_check.sh OUTDIR
#   scripts/gpu_check.sh --bundle DIR    (on a machine that has them: copy Catch2, nlohmann_json,
#                                        stb and zlib into DIR as an install prefix, for a GPU
#                                        machine that lacks them; then run with DEPS_PREFIX=DIR)
#
# Environment: BUILD (default build-gpu), JOBS (default: all cores), DEPS_PREFIX (see --bundle),
# BUDGET_S (default 540: later stages are skipped, and say so, once the budget is spent),
# QUICK=1 (smaller benchmark grids). Exit status 0 only when every stage that ran passed.
# Stages run in order of importance: build, [cuda] tests, workbenches, memcheck, whole ctest.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--bundle" ]]; then
  d=${2:?usage: gpu_check.sh --bundle DIR}
  mkdir -p "$d/include" "$d/lib/cmake" "$d/share/cmake"
  cp -r /usr/include/catch2 /usr/include/nlohmann /usr/include/stb /usr/include/zlib.h /usr/include/zconf.h "$d/include/"
  cp -r /usr/lib/cmake/Catch2 "$d/lib/cmake/"
  cp -r /usr/share/cmake/nlohmann_json "$d/share/cmake/"
  cp -L /usr/lib/x86_64-linux-gnu/libstb.so.0 "$d/lib/" && ln -sf libstb.so.0 "$d/lib/libstb.so"
  # zlib: headers only, and a link-time name for the machine's own libz.so.1 (every Linux has one;
  # shipping this machine's copy could shadow a newer one there).
  ln -sf /usr/lib/x86_64-linux-gnu/libz.so.1 "$d/lib/libz.so"
  echo "bundled into $d ($(du -sh "$d" | cut -f1))"
  exit 0
fi

OUTDIR=${1:?usage: gpu_check.sh OUTDIR}
mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)
BUILD=${BUILD:-build-gpu}
JOBS=${JOBS:-$(nproc)}
BUDGET_S=${BUDGET_S:-540}
LOGS="$BUILD/gpu_check_logs"
mkdir -p "$LOGS"
START=$SECONDS
declare -A STATUS SECS

left() { echo $((BUDGET_S - (SECONDS - START))); }

# run_stage NAME MAX_SECONDS CMD...: runs CMD with its output in $LOGS/NAME.log, within the
# stage's limit and what is left of the budget; records status and seconds.
run_stage() {
  local name=$1 max=$2
  shift 2
  local budget
  budget=$(left)
  if ((budget < 20)); then
    STATUS[$name]="skipped (budget spent)"
    echo "== $name: skipped, budget spent"
    return 1
  fi
  ((max > budget)) && max=$budget
  echo "== $name (limit ${max}s)"
  local t0=$SECONDS
  timeout --signal=TERM --kill-after=10 "$max" "$@" >"$LOGS/$name.log" 2>&1
  local rc=$?
  SECS[$name]=$((SECONDS - t0))
  if ((rc == 0)); then STATUS[$name]=pass
  elif ((rc == 124 || rc == 137)); then STATUS[$name]="timeout after ${max}s"
  else STATUS[$name]="fail (exit $rc)"
  fi
  echo "   ${STATUS[$name]} in ${SECS[$name]}s"
  return $rc
}

# --- the machine -----------------------------------------------------------------------------
DEVICE=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)
DEVICE=${DEVICE:-"no GPU visible to nvidia-smi"}
echo "device: $DEVICE"

CMAKE_ARGS=(-DCMAKE_BUILD_TYPE=Release -DSLIMSSL_CUDA=ON -DCMAKE_POLICY_VERSION_MINIMUM=3.5)
command -v ninja >/dev/null && CMAKE_ARGS+=(-G Ninja)
if [[ -n "${DEPS_PREFIX:-}" ]]; then
  DEPS_PREFIX=$(cd "$DEPS_PREFIX" && pwd)
  CMAKE_ARGS+=("-DCMAKE_PREFIX_PATH=$DEPS_PREFIX")
  export LD_LIBRARY_PATH="$DEPS_PREFIX/lib:${LD_LIBRARY_PATH:-}"
fi
# cuDNN: with the toolkit, or else from the Python wheel (nvidia-cudnn-cu13) if that is what's there.
if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
  CUDNN_DIR=$(python3 -c 'import nvidia.cudnn as m; print(list(m.__path__)[0])' 2>/dev/null || true)
  if [[ -n "$CUDNN_DIR" && -f "$CUDNN_DIR/include/cudnn.h" ]]; then
    lib=$(ls "$CUDNN_DIR"/lib/libcudnn.so* 2>/dev/null | head -1)
    CMAKE_ARGS+=("-DCUDNN_LIBRARY=$lib" "-DCMAKE_CUDA_FLAGS=-I$CUDNN_DIR/include" "-DCMAKE_CXX_FLAGS=-I$CUDNN_DIR/include")
    export LD_LIBRARY_PATH="$CUDNN_DIR/lib:${LD_LIBRARY_PATH:-}"
    echo "cuDNN from $CUDNN_DIR"
  fi
fi

# --- stages ----------------------------------------------------------------------------------
BIN="$BUILD/bin"
QUICK_FLAG=()
[[ "${QUICK:-0}" == 1 ]] && QUICK_FLAG=(--quick)

run_stage configure 120 cmake -S . -B "$BUILD" "${CMAKE_ARGS[@]}" &&
  run_stage build 360 cmake --build "$BUILD" -j "$JOBS"
BUILT=$([[ "${STATUS[build]:-}" == pass ]] && echo 1 || echo 0)

if ((BUILT)); then
  run_stage cuda_tests 120 "$BIN/slimssl_tests" "[cuda]" --durations yes
  run_stage infonce_bench 180 "$BIN/infonce_dev" "$OUTDIR/infonce.json" "${QUICK_FLAG[@]}"
  run_stage sliced_conv_bench 240 "$BIN/sliced_conv_dev" "$OUTDIR/sliced_conv.json" "${QUICK_FLAG[@]}"
  if command -v compute-sanitizer >/dev/null; then
    # Our kernels only: instrumenting cuDNN's algorithm search would take minutes.
    run_stage memcheck 180 env SLIMSSL_SKIP_CUDNN=1 compute-sanitizer --tool memcheck --error-exitcode 99 \
      "$BIN/slimssl_tests" "[cuda]"
  else
    STATUS[memcheck]="skipped (compute-sanitizer not found)"
  fi
  export OMP_WAIT_POLICY=PASSIVE
  run_stage ctest_all 240 ctest --test-dir "$BUILD" -j "$JOBS" --timeout 200 --output-on-failure
fi

# --- summary ---------------------------------------------------------------------------------
# Counts from the logs: Catch2's last line, ctest's "N tests failed out of M", memcheck's error summary.
catch_line=$(grep -E "^(All tests passed|test cases:)" "$LOGS/cuda_tests.log" 2>/dev/null | tail -1)
skipped=$(grep -c "skipped: no CUDA device" "$LOGS/cuda_tests.log" 2>/dev/null)
ctest_line=$(grep -E "tests passed, .* tests failed out of" "$LOGS/ctest_all.log" 2>/dev/null | tail -1)
memcheck_line=$(grep -E "ERROR SUMMARY" "$LOGS/memcheck.log" 2>/dev/null | tail -1)
table() { grep -E '^\|' "$LOGS/$1.log" 2>/dev/null; }

{
  echo "slimssl GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "device: $DEVICE"
  echo
  for s in configure build cuda_tests infonce_bench sliced_conv_bench memcheck ctest_all; do
    printf '%-18s %s%s\n' "$s" "${STATUS[$s]:-not run}" "${SECS[$s]:+ (${SECS[$s]}s)}"
  done
  echo
  echo "[cuda] tests:       ${catch_line:-no summary line} ${skipped:+(skip warnings: $skipped)}"
  echo "whole ctest:        ${ctest_line:-no summary line}"
  echo "memcheck:           ${memcheck_line:-no summary line}"
  echo
  echo "== fused InfoNCE: forward + backward =="
  grep -E "^(validation|  full size|split sweep|  splits)" "$LOGS/infonce_bench.log" 2>/dev/null
  table infonce_bench
  echo
  echo "== sliced-channel convolution, batch 512 =="
  grep -E "^(custom path|validation)" "$LOGS/sliced_conv_bench.log" 2>/dev/null
  table sliced_conv_bench
} >"$OUTDIR/summary.txt"

python3 - "$OUTDIR" "$DEVICE" "$LOGS" <<'EOF' || echo "summary.json: python3 failed" >&2
import json, os, re, sys
out, device, logs = sys.argv[1], sys.argv[2], sys.argv[3]
def read(name):
    try:
        return open(os.path.join(logs, name + ".log"), errors="replace").read()
    except OSError:
        return ""
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return None
status = {}
for line in open(os.path.join(out, "summary.txt")):
    m = re.match(r"^(configure|build|cuda_tests|infonce_bench|sliced_conv_bench|memcheck|ctest_all)\s+(.*)$", line)
    if m:
        status[m.group(1)] = m.group(2).strip()
def catch_counts(text):
    m = re.search(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)", text)
    if m:
        return {"passed": int(m.group(2)), "failed": 0, "assertions": int(m.group(1))}
    m = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", text)
    if m:
        return {"passed": int(m.group(2)), "failed": int(m.group(3))}
    return None
def ctest_counts(text):
    m = re.search(r"(\d+)% tests passed, (\d+) tests failed out of (\d+)", text)
    return {"passed": int(m.group(3)) - int(m.group(2)), "failed": int(m.group(2))} if m else None
def memcheck_errors(text):
    m = re.search(r"ERROR SUMMARY: (\d+) error", text)
    return int(m.group(1)) if m else None
summary = {
    "device": device,
    "stages": status,
    "cuda_tests": catch_counts(read("cuda_tests")),
    "cuda_tests_skip_warnings": read("cuda_tests").count("skipped: no CUDA device"),
    "ctest": ctest_counts(read("ctest_all")),
    "memcheck_errors": memcheck_errors(read("memcheck")),
    "infonce": load("infonce.json"),
    "sliced_conv": load("sliced_conv.json"),
}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)
EOF

# One log file with every stage (the build's tail only).
{
  for s in configure build cuda_tests infonce_bench sliced_conv_bench memcheck ctest_all; do
    [[ -f "$LOGS/$s.log" ]] || continue
    echo "================ $s ================"
    if [[ $s == build || $s == ctest_all ]]; then tail -n 150 "$LOGS/$s.log"; else tail -n 400 "$LOGS/$s.log"; fi
  done
} >"$OUTDIR/logs.txt"

cat "$OUTDIR/summary.txt" | head -20
ok=1
for s in configure build cuda_tests infonce_bench sliced_conv_bench memcheck ctest_all; do
  case "${STATUS[$s]:-not run}" in pass | "skipped (compute-sanitizer not found)") ;; *) ok=0 ;; esac
done
echo "gpu_check: $([[ $ok == 1 ]] && echo PASS || echo FAIL) in $((SECONDS - START))s; results in $OUTDIR"
((ok))
