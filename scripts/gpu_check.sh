#!/usr/bin/env bash
# The GPU check (docs/gpu.md). On a GPU machine it runs slimssl's GPU stages from the bundle that
# scripts/gpu_bundle.sh packed (prebuilt binaries and libraries, configs, CIFAR-10), with cuBLAS
# and cuDNN taken from the PyTorch installation there. Each stage runs in its own time box inside a
# total budget and, the moment it ends, appends to OUTDIR/summary.md and rewrites
# OUTDIR/summary.json, so a hang or a crash in one stage loses none of the others. OUTDIR receives
# those two files and at most six logs (the device tool returns at most 8 files).
#
#   gpu_check.sh [--dry-run] [--build] [--only STAGE,...] OUTDIR
#
#   --dry-run  for a machine without a GPU (CI): every stage runs up to its GPU work, which it
#              reports as "no GPU"; the probe still checks the bundle's manifest and size and that
#              ldd resolves every library (this machine's CUDA toolkit standing in for PyTorch's
#              wheels). A broken script, a file missing from the bundle or a bundle over its size
#              limit fails it.
#   --build    the fallback when the bundle's binaries cannot run there: configure and build from
#              the source tree first (into BUILD, default build-gpu), then run the same stages.
#   --only     run only the named stages; the others are reported as not selected.
#
# Environment: SLIMSSL_BUNDLE (default: the bundle this script was packed into, else .carry/gpu
# beside it), BUDGET_S (seconds for all stages, default 300), LIMIT_<stage> (one stage's time
# box), PYTHON (the Python holding the nvidia wheels), LIMIT_MIB (default: the bundle's own).
# Exit status: 0 when no stage failed or timed out.
set -uo pipefail

# --- the stages ---------------------------------------------------------------------------------
# One row per stage, run in this order, which is their priority: once the budget is spent the rest
# are reported skipped (a second run can take them with --only). limit: its time box in seconds. log: the log file (in
# OUTDIR, at most six in all) its output goes to. kind: gpu stages do GPU work (a dry run stops
# short of it). needs: what the build must have, "-" for nothing; a stage whose needs are missing
# is reported "not available in this build", not failed:
#   bin:NAME       a binary of the bundle        tag:SPEC        slimssl_tests has such cases
#   cmd:NAME       a command of the slimssl CLI  opt:CMD:OPTION  `slimssl CMD --help` lists OPTION (CMD: bench.step for a subcommand)
#   config:FILE    a file in configs/            data:NAME       a data set in the bundle's data/
#   peer:          benchmarks/peer/*.py          tool:NAME       a program on this machine
# function: the stage_* function below, with its one argument. A new stage is a new row.
STAGES=(
  # name        limit log       kind needs                                      function argument
  "build         240  build     cpu  -                                          stage_build"
  "probe          10  probe     cpu  -                                          stage_probe"
  "bundle_tests   40  tests     cpu  bin:slimssl_tests                          stage_bundle_tests"
  "cuda_tests     90  tests     gpu  bin:slimssl_tests,tag:[cuda]~[ops]         stage_catch_gpu [cuda]~[ops]"
  "cuda_ops       90  tests     gpu  bin:slimssl_tests,tag:[cuda][ops]          stage_catch_gpu [cuda][ops]"
  "memcheck       60  sanitizer gpu  bin:slimssl_tests,tool:compute-sanitizer   stage_sanitize memcheck"
  "kernel_bench  120  bench     gpu  bin:infonce_dev,bin:sliced_conv_dev        stage_kernel_bench"
  "augment_bench  30  bench     gpu  bin:bench_augment_device                   stage_augment_bench"
  "racecheck      60  sanitizer gpu  bin:slimssl_tests,tool:compute-sanitizer   stage_sanitize racecheck"
  "synccheck      40  sanitizer gpu  bin:slimssl_tests,tool:compute-sanitizer   stage_sanitize synccheck"
  "step_bench    150  bench     gpu  cmd:bench,opt:bench.step:--json,peer:           stage_step_bench"
  "train_cifar   120  train     gpu  cmd:train,data:cifar10,config:cifar10_slimclr_mocov2_resnet18.json stage_train_cifar"
)

# --- helpers for stages (each stage runs as `gpu_check.sh --stage FUNCTION ARG`) -----------------
figure() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/figures/$STAGE_NAME.txt"; }
# settle RC: folds one run's exit status into the stage's (STAGE_RC): a failure outranks a timeout.
STAGE_RC=0
settle() {
  case $1 in
    0) ;;
    124 | 137) ((STAGE_RC == 0)) && STAGE_RC=124 ;;
    *) STAGE_RC=1 ;;
  esac
}
ran_for() { case $1 in 124 | 137) echo "timed out after ${2} s" ;; *) echo "exit status $1 after ${2} s" ;; esac; }
detail() { printf '%s\n' "$@" >>"$WORK/details/$STAGE_NAME.md"; }
note() { printf '%s' "$1" >"$WORK/notes/$STAGE_NAME"; }
not_available() { note "$1"; exit 3; }
stage_left() { echo $((STAGE_DEADLINE - EPOCHSECONDS)); }

# within SECONDS CMD...: CMD (a program) in a time box of SECONDS, or of what is left of the
# stage's less 3 s, so that the stage itself still records what happened.
within() {
  local s=$1 left
  shift
  left=$(($(stage_left) - 3))
  ((s > left)) && s=$left
  ((s >= 1)) || return 124
  timeout -k 3 "$s" "$@"
}

# on_gpu SECONDS CMD...: the GPU work of a stage, in a time box. A dry run checks that the
# programs it names from the bundle are there, and shows the command instead of running it.
on_gpu() {
  if ((DRY)); then
    local a
    for a in "${@:2}"; do
      if [[ "$a" == "$BIN"/* && ! -x "$a" ]]; then
        echo "dry run: $a is missing"
        return 1
      fi
    done
    echo "dry run, not run: ${*:2}"
    return 0
  fi
  within "$@"
}

# output_has PATTERN CMD...: CMD's output (stdout and stderr) matches the extended regex PATTERN.
output_has() {
  local out
  out=$("${@:2}" 2>&1)
  grep -qE -- "$1" <<<"$out"
}

# catch_figures LOG PREFIX: Catch2's closing counts as figures. It ends with "All tests passed
# (A assertions in C test cases)" or with "test cases: C | P passed | F failed" (either part may
# be missing) and "assertions: ...".
catch_figures() {
  local log=$1 p=$2 line
  line=$(grep -E "^(All tests passed|test cases:)" "$log" | tail -1)
  count_of() { grep -oE "[0-9]+ $1" <<<"$line" | grep -oE "^[0-9]+" || echo 0; }
  if [[ "$line" =~ ^All\ tests\ passed\ \(([0-9]+)\ assertions?\ in\ ([0-9]+) ]]; then
    figure "${p}cases_passed" "${BASH_REMATCH[2]}"
    figure "${p}cases_failed" 0
    figure "${p}assertions" "${BASH_REMATCH[1]}"
  elif [[ -n "$line" ]]; then
    figure "${p}cases_passed" "$(count_of passed)"
    figure "${p}cases_failed" "$(count_of failed)"
  else
    figure "${p}cases" "no Catch2 summary line"
  fi
  figure "${p}skip_notes" "$(grep -c "skipped:" "$log")"
}

# run_catch LOG SPEC [ENV...]: slimssl_tests on SPEC with the bundle's configs and data (ENV:
# arguments for env, e.g. -u NAME or NAME=VALUE). -w NoTests: a spec matching nothing fails.
run_catch() {
  local log=$1 spec=$2
  shift 2
  env "$@" SLIMSSL_CONFIGS_DIR="$CONFIGS_DIR" SLIMSSL_DATA_DIR="$DATA_DIR" \
    "$BIN/slimssl_tests" -w NoTests "$spec" 2>&1 | tee "$log"
}

# --- the stage functions --------------------------------------------------------------------------
stage_build() {  # --build only: configure and build here, with the bundle's build deps if any
  local args=(-DCMAKE_BUILD_TYPE=Release -DSLIMSSL_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
  command -v ninja >/dev/null && args+=(-G Ninja)
  if [[ -f "$BUNDLE/deps.tar.xz" ]]; then
    tar -C "$WORK" -xJf "$BUNDLE/deps.tar.xz" && args+=("-DCMAKE_PREFIX_PATH=$WORK/deps")
  fi
  # cuDNN: with the toolkit, or else from the wheel (its headers and library).
  if ! ls /usr/local/cuda/include/cudnn.h /usr/include/cudnn.h >/dev/null 2>&1; then
    local d
    for d in ${WHEEL_DIRS//:/ }; do
      if [[ -f "$d/../include/cudnn.h" ]]; then
        args+=("-DCUDNN_LIBRARY=$(ls "$d"/libcudnn.so* | head -1)" "-DCMAKE_CUDA_FLAGS=-I$d/../include"
          "-DCMAKE_CXX_FLAGS=-I$d/../include")
      fi
    done
  fi
  cmake -S "$ROOT" -B "$BUILD_DIR" "${args[@]}" &&
    cmake --build "$BUILD_DIR" -j "$(nproc)" --target slimssl_tests slimssl infonce_dev sliced_conv_dev
}

# loaded_file NAME PATH: NAME=PATH into libraries.txt, with the versioned file PATH links to.
loaded_file() {
  local real
  real=$(readlink -f "$2")
  if [[ "$(basename "$real")" != "$(basename "$2")" ]]; then
    echo "$1=$2 -> $(basename "$real")" >>"$WORK/libraries.txt"
  else
    echo "$1=$2" >>"$WORK/libraries.txt"
  fi
}

stage_probe() {
  local bad=0 b line
  bash -n "$SELF" && echo "gpu_check.sh parses" || bad=1
  "$PY" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$HERE/gpu_summary.py" &&
    echo "gpu_summary.py parses" || bad=1
  if [[ $MODE != build ]]; then verify_bundle || bad=1; fi

  # Every binary's libraries resolve; say which files they resolve to.
  : >"$WORK/libraries.txt"
  for b in "$BIN"/*; do
    [[ -x "$b" && -f "$b" ]] || continue
    while read -r line; do
      if [[ "$line" == *"not found"* ]]; then
        echo "ldd $(basename "$b"): $line"
        bad=1
      elif [[ "$line" =~ ^(lib(cudart|cublas|cublasLt|cudnn|gomp|stb|stdc\+\+|c)\.so[.0-9]*)\ =\>\ ([^ ]+) ]]; then
        grep -q "^${BASH_REMATCH[1]}=" "$WORK/libraries.txt" || loaded_file "${BASH_REMATCH[1]}" "${BASH_REMATCH[3]}"
      fi
    done < <(ldd "$b" 2>&1 | sed 's/^[[:space:]]*//')
  done
  # cuDNN opens its parts at run time: they must be beside it, and resolve too.
  line=$(sed -n 's/^libcudnn\.so[.0-9]*=\([^ ]*\).*/\1/p' "$WORK/libraries.txt")
  if [[ -n "$line" ]]; then
    if ls "$(dirname "$line")"/libcudnn_graph.so* >/dev/null 2>&1; then
      ldd "$(dirname "$line")"/libcudnn_*.so* 2>&1 | grep "not found" && bad=1
    else
      echo "cuDNN's parts (libcudnn_graph ...) are not beside $line"
      bad=1
    fi
  fi
  echo "libraries:"
  sed 's/^/  /' "$WORK/libraries.txt"
  figure libraries_resolved "$(wc -l <"$WORK/libraries.txt")"
  figure libraries_from "$LIBS_FROM"
  detail "| library | loaded from |" "|---|---|" "$(sed 's/^\([^=]*\)=\(.*\)/| \1 | \2 |/' "$WORK/libraries.txt")" ""
  [[ -s "$WORK/python.txt" ]] && detail "Python packages: $(sed 's/=/ /' "$WORK/python.txt" | paste -sd, | sed 's/,/, /g')" ""

  if b=$(find_sanitizer); then
    echo "compute-sanitizer: $b ($("$b" --version 2>/dev/null | grep -o 'Version [^ ]*' | head -1))"
    figure compute_sanitizer "$b"
  else
    echo "compute-sanitizer: not found (the sanitizer stages will say so)"
    figure compute_sanitizer "not found"
  fi

  # Last, as it can be slow on a machine just started: the device, its clocks and state.
  if ((DRY)); then
    echo "device: no GPU (dry run)"
  elif line=$(timeout "$(stage_left)" nvidia-smi --format=csv,noheader \
    --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,temperature.gpu,power.draw 2>&1 | head -1) &&
    [[ -n "$line" && "$line" != *[Ee]rror* && "$line" != *"failed"* ]]; then
    echo "device: $line"
    echo "device=${line%%,*}" >>"$WORK/meta.txt"
    figure device "$line"
  else
    echo "nvidia-smi failed: $line"
    bad=1
  fi
  return $bad
}

stage_bundle_tests() {  # the files that travel with the binaries: configs, data, the GPU gate
  run_catch "$WORK/tmp/bundle_tests.log" "[configs],[gpu_gate],[data][real]"
  local rc=$?
  catch_figures "$WORK/tmp/bundle_tests.log" ""
  "$BIN/slimssl" --help >/dev/null || { echo "slimssl --help failed"; rc=1; }
  return $rc
}

stage_catch_gpu() {  # $1: the test spec, run with SLIMSSL_REQUIRE_GPU=1
  local spec=$1 log="$WORK/tmp/$STAGE_NAME.log"
  if ((DRY)); then
    # The shipped binary must skip without a GPU, and fail when a GPU is required.
    run_catch "$log" "$spec" -u SLIMSSL_REQUIRE_GPU || { echo "dry run: '$spec' failed without a GPU"; return 1; }
    catch_figures "$log" "no_gpu_"
    if run_catch "$log.required" "$spec" SLIMSSL_REQUIRE_GPU=1 >/dev/null; then
      echo "dry run: '$spec' passed with SLIMSSL_REQUIRE_GPU=1 and no GPU: the gate is broken"
      return 1
    fi
    echo "dry run: with SLIMSSL_REQUIRE_GPU=1 and no GPU '$spec' fails, as it must"
    return 0
  fi
  run_catch "$log" "$spec" SLIMSSL_REQUIRE_GPU=1
  local rc=$?
  catch_figures "$log" ""
  return $rc
}

# sanitize_run TOOL NAME SECONDS CMD...: one program under compute-sanitizer; its error count.
sanitize_run() {
  local tool=$1 name=$2 secs=$3
  shift 3
  local log="$WORK/tmp/$STAGE_NAME.$name.log" rc n t0=$EPOCHSECONDS
  echo "== $tool: $name"
  on_gpu "$secs" env SLIMSSL_SKIP_CUDNN=1 SLIMSSL_REQUIRE_GPU=1 "$SANITIZER" --tool "$tool" \
    --error-exitcode 99 --print-limit 50 "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  settle "$rc"
  ((DRY)) && return
  n=$(grep -oE "ERROR SUMMARY: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+$")
  case $rc in
    0 | 99) figure "${name}_errors" "${n:-no ERROR SUMMARY line}" ;;
    *) figure "${name}_errors" "${n:+$n, }$(ran_for "$rc" $((EPOCHSECONDS - t0)))" ;;
  esac
}

stage_sanitize() {  # $1: memcheck, racecheck or synccheck; the [cuda] tests and small workbench cases
  local tool=$1 share=$((STAGE_LIMIT / 4))
  SANITIZER=$(find_sanitizer) || {
    ((DRY)) || not_available "compute-sanitizer not found on this machine"
    SANITIZER=compute-sanitizer
  }
  # cuDNN's algorithm search would spend minutes under the sanitizer: our kernels only.
  sanitize_run "$tool" tests $((2 * share)) "$BIN/slimssl_tests" "[cuda]~[ops]"
  sanitize_run "$tool" infonce_dev "$share" "$BIN/infonce_dev" --tiny --validate-only
  sanitize_run "$tool" sliced_conv_dev "$share" "$BIN/sliced_conv_dev" --small --validate-only
  return $STAGE_RC
}

# bench_run NAME SECONDS: one workbench's --quick grid; its validation and tables into the summary.
bench_run() {
  local name=$1 secs=$2 log="$WORK/tmp/$1.log" rc t0 lines
  echo "== $name"
  if ((DRY)); then  # the program starts and says there is no GPU
    "$BIN/$name" "$WORK/tmp/$name.json" >"$log" 2>&1
    rc=$?
    cat "$log"
    ((rc == 2)) && grep -q "no CUDA device" "$log" || { echo "dry run: $name did not start (exit $rc)"; settle 1; }
  fi
  t0=$EPOCHSECONDS
  on_gpu "$secs" "$BIN/$name" "$WORK/json/$name.json" --quick 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  settle "$rc"
  ((DRY)) && return
  local checks
  checks=$(grep -E "^validation: " "$log" | tail -1 | sed 's/^validation: //')
  ((rc == 0)) || checks="${checks:+$checks; }$(ran_for "$rc" $((EPOCHSECONDS - t0)))"
  figure "${name}_validation" "${checks:-no validation line}"
  lines=$(grep -E "^(validation|  full size|split sweep|  splits|custom path|batch [0-9]|forward \+ backward)" "$log")
  [[ -n "$lines" ]] && detail "#### $name" "" '```' "$lines" '```' ""
  lines=$(grep -E '^\|' "$log")
  [[ -n "$lines" ]] && detail "$lines" ""
  return 0
}

stage_kernel_bench() {
  bench_run infonce_dev $((STAGE_LIMIT * 2 / 5))
  bench_run sliced_conv_dev "$STAGE_LIMIT"
  return $STAGE_RC
}

# Device augmentation vs the CPU reference (docs/data.md, "The device path"); about 10 s.
stage_augment_bench() {
  bench_run bench_augment_device "$STAGE_LIMIT"
  return $STAGE_RC
}

# The training step beside the PyTorch peer (benchmarks/peer/compare.py gpu): slimssl bench step
# --json, then the peer eager and under torch.compile (bf16 autocast, channels-last), one table.
stage_step_bench() {
  local out="$WORK/tmp/step_bench" config="$CONFIGS_DIR/cifar10_slimclr_mocov2_resnet18.json" rc f
  mkdir -p "$out"
  if ((DRY)); then  # the peer's scripts parse, and slimssl's bench runs this config (on the CPU: batch 8 at 16 px)
    for f in "$PEER_DIR"/*.py; do
      "$PY" -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' "$f" || { echo "dry run: $f does not parse"; return 1; }
    done
    OMP_WAIT_POLICY=PASSIVE "$BIN/slimssl" bench step --config "$config" --json --steps 1 --warmup 0 data=synthetic batch_size=8 image_size=16 threads=1 \
      queue_size=64 shuffle_bn_groups=2 >"$out/dry.json" || { echo "dry run: slimssl bench step failed"; return 1; }
    echo "dry run: slimssl bench step ran the config on the CPU: $(head -c 200 "$out/dry.json")..."
  fi
  on_gpu $((STAGE_LIMIT - 5)) "$PY" "$PEER_DIR/compare.py" gpu --slimssl "$BIN/slimssl" --python "$PY" \
    --config "$config" --budget $((STAGE_LIMIT - 15)) --out "$out"
  rc=$?
  ((DRY)) && return $rc
  [[ -f "$out/table.md" ]] && detail "$(cat "$out/table.md")" ""
  [[ -f "$out/results.jsonl" ]] && "$PY" - "$out/results.jsonl" <<'PYEOF' | while IFS=$'\t' read -r k v; do figure "$k" "$v"; done
import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = r["engine"].replace(" ", "_")
    print("%s_images_per_s\t%s" % (key, r.get("error") or "%.0f" % r["images_per_s"]))
PYEOF
  return $rc
}

# A short SlimCLR run of the CIFAR-10 config on the GPU (two epochs: slow start for the first, every
# width in the second), ending with the kNN monitor against the raw pixels. Its figures come from the
# run's metrics.jsonl, so a run stopped by its time box still reports its speed.
stage_train_cifar() {
  local out="$WORK/tmp/train_cifar" config="$CONFIGS_DIR/cifar10_slimclr_mocov2_resnet18.json" rc
  local args=(train --config "$config" --out "$out/run" --force "data=$DATA_DIR/cifar10" epochs=2 slim_start_epoch=1
              warmup_epochs=0 knn_every=0 knn_bank_size=10000 knn_test_size=2000 log_every=10 checkpoint_every=100000)
  mkdir -p "$out"
  if ((DRY)); then  # the same command on the CPU, shrunk to two steps of 8 images at 16 px
    OMP_WAIT_POLICY=PASSIVE "$BIN/slimssl" "${args[@]}" --out "$out/dry" device=cpu threads=1 max_steps=2 \
      batch_size=8 image_size=16 queue_size=64 shuffle_bn_groups=2 knn_bank_size=64 knn_test_size=32 \
      train_subset=64 >"$out/dry.log" 2>&1 || { echo "dry run: slimssl train failed: $(tail -3 "$out/dry.log")"; return 1; }
    echo "dry run: slimssl train ran the config on the CPU: $(grep -E '^(raw pixels|1\.00) ' "$out/dry.log" | tr -s ' ' | paste -sd';')"
  fi
  on_gpu $((STAGE_LIMIT - 5)) "$BIN/slimssl" "${args[@]}" device=cuda
  rc=$?
  ((DRY)) && return $rc
  [[ -f "$out/run/metrics.jsonl" ]] && "$PY" - "$out/run/metrics.jsonl" <<'PYEOF' | while IFS=$'\t' read -r k v; do figure "$k" "$v"; done
import json, sys
train, knn, base = [], [], None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] == "train": train.append(r)
    elif r["type"] == "knn": knn.append(r)
    elif r["type"] == "knn_baseline": base = r
if train:
    print("steps\t%d" % train[-1]["step"])
    rates = [r["images_per_s"] for r in train[1:]] or [train[-1]["images_per_s"]]
    print("images_per_s_median\t%.0f" % sorted(rates)[len(rates) // 2])
if base: print("knn_raw_pixels\t%.2f" % base["raw_pixels"])
for w, v in (knn[-1]["top1"].items() if knn else []):
    print("knn_w%s\t%.2f" % (w, v))
PYEOF
  return $rc
}

# --- the bundle, the libraries, the machine ---------------------------------------------------------
find_sanitizer() {
  local s
  for s in "$(command -v compute-sanitizer)" /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    [[ -n "$s" && -x "$s" ]] && { echo "$s"; return 0; }
  done
  return 1
}

verify_bundle() {  # every file of the MANIFEST, by size and sha256; the size limit
  local bad=0 size sum path total=0 reserve limit
  [[ -f "$BUNDLE/MANIFEST" ]] || { echo "bundle: no MANIFEST in $BUNDLE"; return 1; }
  while read -r size sum path; do
    total=$((total + size))
    if [[ ! -f "$BUNDLE/$path" ]]; then
      echo "bundle: $path is missing"
      bad=1
    elif [[ $(stat -c %s "$BUNDLE/$path") != "$size" ]] || [[ $(sha256sum <"$BUNDLE/$path" | cut -d' ' -f1) != "$sum" ]]; then
      echo "bundle: $path differs from the MANIFEST"
      bad=1
    fi
  done <"$BUNDLE/MANIFEST"
  reserve=$(info reserve_bytes)
  limit=${LIMIT_MIB:-$(info limit_mib)}
  figure bundle_files "$(wc -l <"$BUNDLE/MANIFEST")"
  figure bundle_mib "$(awk -v b="$total" 'BEGIN { printf "%.1f", b / 1048576 }')"
  figure bundle_limit_mib "$limit"
  echo "bundle: $(wc -l <"$BUNDLE/MANIFEST") files, $total bytes (+ ${reserve:-0} reserved for absent data), limit $limit MiB"
  if ((total + ${reserve:-0} > ${limit:-0} * 1048576)); then
    echo "bundle: over its size limit of $limit MiB"
    bad=1
  fi
  return $bad
}

info() { sed -n "s/^$1=//p" "$BUNDLE/BUNDLE_INFO" 2>/dev/null; }

# PyTorch's CUDA libraries: ask that Python where its nvidia packages live. The CUDA 12 wheels
# install nvidia/<package>/lib, the CUDA 13 ones nvidia/cu13/lib (cuDNN: nvidia/cudnn/lib).
find_wheel_libraries() {
  local p out
  for p in ${PYTHON:-} python3 /opt/torch/.venv/bin/python3; do
    command -v "$p" >/dev/null || continue
    out=$(timeout 30 "$p" - 2>/dev/null <<'EOF'
import glob, importlib.metadata as md, os
import nvidia
for root in list(nvidia.__path__):
    for d in sorted(glob.glob(os.path.join(root, "*", "lib*"))):
        if any(glob.glob(os.path.join(d, pat)) for pat in ("libcublas*.so*", "libcudnn*.so*", "libcudart*.so*")):
            print("dir=" + d)
for dist in sorted({d.metadata["Name"] for d in md.distributions() if d.metadata["Name"]}):
    if dist.lower().startswith(("nvidia-cublas", "nvidia-cudnn", "nvidia-cuda-runtime", "torch")):
        print(dist + "=" + md.version(dist))
EOF
    ) || continue
    WHEEL_DIRS=$(sed -n 's/^dir=//p' <<<"$out" | paste -sd:)
    [[ -n "$WHEEL_DIRS" ]] || continue
    grep -v '^dir=' <<<"$out" >"$WORK/python.txt"
    LIBS_FROM="PyTorch's wheels ($(command -v "$p"))"
    return 0
  done
  return 1
}

setup_libraries() {
  WHEEL_DIRS=""
  local dirs="" d
  if find_wheel_libraries; then
    dirs=$WHEEL_DIRS
  else
    for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
      ls "$d"/libcublas.so* >/dev/null 2>&1 && dirs+=${dirs:+:}$d
    done
    LIBS_FROM="the CUDA toolkit at ${dirs:-(none found)} ($( ((DRY)) && echo "stand-in for PyTorch's wheels" || echo "no nvidia wheels found"))"
  fi
  # The bundle's own libraries first; a build here links against this machine's toolkit and needs
  # only the bundle's build deps (libstb).
  if [[ $MODE == build ]]; then dirs="$WORK/deps/lib${dirs:+:$dirs}"
  elif [[ -d "$BUNDLE/lib" ]]; then dirs="$BUNDLE/lib${dirs:+:$dirs}"; fi
  export LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "libraries from $LIBS_FROM"
}

unpack_binaries() {  # bin/*.xz into $BIN
  local f out
  mkdir -p "$BIN"
  for f in "$BUNDLE"/bin/*.xz; do
    [[ -f "$f" ]] || continue
    out="$BIN/$(basename "$f" .xz)"
    if command -v xz >/dev/null; then
      xz -dc "$f" >"$out"
    else
      "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$f" "$out"
    fi || echo "could not unpack $f" >&2
    chmod +x "$out"
  done
}

# needs_missing NEEDS: what of NEEDS (comma-separated) this build lacks, or nothing.
needs_missing() {
  local need arg list
  IFS=, read -ra list <<<"$1"
  for need in "${list[@]}"; do
    arg=${need#*:}
    case $need in
      -) ;;
      bin:*) if [[ $MODE == build ]]; then [[ -x "$BIN/$arg" ]] || echo "$arg was not built"
             else [[ " $(info binaries) " == *" $arg "* ]] || echo "the bundle has no $arg"; fi ;;
      tag:*) [[ -x "$BIN/slimssl_tests" ]] && ! output_has . "$BIN/slimssl_tests" --list-test-names-only "$arg" &&
               echo "no test cases match $arg" ;;
      cmd:*) output_has "^ +$arg( |$)" "$BIN/slimssl" --help || echo "the CLI has no '$arg' command" ;;
      opt:*)  # CMD may name a subcommand with a dot: bench.step
        local words=${arg%%:*}
        # shellcheck disable=SC2086
        output_has "${arg#*:}" "$BIN/slimssl" ${words//./ } --help || echo "'slimssl ${words//./ }' has no ${arg#*:}" ;;
      config:*) [[ -f "$CONFIGS_DIR/$arg" ]] || echo "no $arg in configs" ;;
      data:*) [[ -d "$DATA_DIR/$arg" ]] || echo "no $arg data" ;;
      peer:*) ls "$PEER_DIR"/*.py >/dev/null 2>&1 || echo "no benchmarks/peer scripts" ;;
      tool:*) ((DRY)) || find_sanitizer >/dev/null || echo "$arg not found on this machine" ;;
      *) echo "unknown need '$need'" ;;
    esac
  done
}

# --- summary.md, summary.json and the logs ----------------------------------------------------------
# append_log LOG NAME: the stage's output, cut in the middle when long, into OUTDIR/LOG.log.
append_log() {
  local src="$WORK/out/$2.out" dst="$OUTDIR/$1.log" size
  size=$(stat -c %s "$src")
  {
    echo "================ $2 ================"
    if ((size <= 96 * 1024)); then cat "$src"
    else
      head -c 24576 "$src"
      printf '\n[... %d bytes cut ...]\n' $((size - 90112))
      tail -c 65536 "$src"
    fi
  } >>"$dst"
}

record_stage() {  # NAME STATUS SECONDS LIMIT LOG NOTE
  local name=$1 status=$2 secs=$3 limit=$4 log=$5 note=$6 key value
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$WORK/stages.tsv"
  {
    echo
    echo "## $name: $status${secs:+ in ${secs} s}${limit:+ (limit ${limit} s)}"
    [[ -n "$note" ]] && echo && echo "$note"
    if [[ -s "$WORK/figures/$name.txt" ]]; then
      echo
      echo "| figure | value |"
      echo "|---|---|"
      while IFS=$'\t' read -r key value; do echo "| $key | $value |"; done <"$WORK/figures/$name.txt"
    fi
    [[ -s "$WORK/details/$name.md" ]] && echo && cat "$WORK/details/$name.md"
  } >>"$OUTDIR/summary.md"
  write_json running
  printf '== %-13s %s%s\n' "$name" "$status" "${secs:+ (${secs} s)}${note:+: $note}"
}

write_json() { "$PY" "$HERE/gpu_summary.py" "$WORK" "$OUTDIR" "$1" || echo "summary.json: $PY failed" >&2; }

run_stage() {  # one row of STAGES
  local name limit log kind needs fn arg missing rc t0 status note=""
  read -r name limit log kind needs fn arg <<<"$1"
  [[ $name == build && $MODE != build ]] && return 0
  local override="LIMIT_$name"
  limit=${!override:-$limit}
  if [[ -n "$ONLY" && ",$ONLY," != *",$name,"* ]]; then
    record_stage "$name" skipped "" "" "" "not selected (--only $ONLY)"
    return 0
  fi
  local left=$((BUDGET_S - (SECONDS - START)))
  if ((left < 15 || left < limit / 4)); then
    record_stage "$name" skipped "" "$limit" "" "the budget of ${BUDGET_S} s was spent"
    return 0
  fi
  ((limit > left)) && limit=$left
  missing=$(needs_missing "$needs" | paste -sd';' | sed 's/;/; /g')
  if [[ -n "$missing" ]]; then
    record_stage "$name" "not available" "" "" "" "not available in this build: $missing"
    return 0
  fi
  echo "-- $name (limit ${limit} s)"
  t0=$SECONDS
  STAGE_NAME=$name STAGE_LIMIT=$limit STAGE_DEADLINE=$((EPOCHSECONDS + limit)) \
    timeout -k 5 "$limit" bash "$SELF" --stage "$fn" ${arg:+"$arg"} >"$WORK/out/$name.out" 2>&1
  rc=$?
  append_log "$log" "$name"
  [[ -f "$WORK/notes/$name" ]] && note=$(cat "$WORK/notes/$name")
  if [[ -f "$WORK/notes/$name.broken" ]]; then
    rc=1 note="the stage's script is broken: $(paste -sd' ' "$WORK/notes/$name.broken")"
  fi
  case $rc in
    0) if [[ $kind == gpu ]] && ((DRY)); then status="no GPU"; note=${note:-"dry run: the GPU work was not run"}
       else status=passed; fi ;;
    3) status="not available" ;;
    124 | 137) status="timed out"; FAILED=1
       note=${note:-"a run reached its time box (LIMIT_$name=SECONDS changes it)"} ;;
    *) status="failed"; note=${note:-"exit status $rc; see $log.log"}; FAILED=1 ;;
  esac
  record_stage "$name" "$status" $((SECONDS - t0)) "$limit" "$log" "$note"
}

main() {
  local outdir="" arg
  DRY=0 MODE=prebuilt ONLY=""
  while (($#)); do
    case $1 in
      --dry-run) DRY=1 ;;
      --build) MODE=build ;;
      --only) ONLY=${2:?--only needs a list of stages}; shift ;;
      -h | --help) sed -n '2,/^set -uo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      -*) echo "gpu_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
      *) outdir=$1 ;;
    esac
    shift
  done
  [[ -n "$outdir" ]] || { echo "usage: gpu_check.sh [--dry-run] [--build] [--only STAGE,...] OUTDIR" >&2; exit 2; }
  mkdir -p "$outdir" && OUTDIR=$(cd "$outdir" && pwd) || exit 2
  [[ -e "$OUTDIR/summary.md" ]] && { echo "gpu_check.sh: $OUTDIR already holds a summary; give an empty folder" >&2; exit 2; }
  ((DRY)) && MODE=${MODE/prebuilt/dry-run}

  START=$SECONDS FAILED=0
  BUDGET_S=${BUDGET_S:-300}
  PY=$(command -v python3 || command -v /opt/torch/.venv/bin/python3) || { echo "gpu_check.sh: no python3" >&2; exit 2; }
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/slimssl-gpu.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK"/{figures,details,notes,out,tmp,json}

  if [[ $MODE == build ]]; then
    ROOT=$(cd "$HERE/.." && pwd)
    [[ -f "$ROOT/CMakeLists.txt" ]] || { echo "gpu_check.sh: --build needs the source tree (run scripts/gpu_check.sh)" >&2; exit 2; }
    BUILD_DIR=${BUILD:-$ROOT/build-gpu} BIN=${BUILD:-$ROOT/build-gpu}/bin
    CONFIGS_DIR=$ROOT/configs PEER_DIR=$ROOT/benchmarks/peer
    DATA_DIR=$BUNDLE/data
    [[ -d "$DATA_DIR" ]] || DATA_DIR=$ROOT/../shared/data
  else
    [[ -f "$BUNDLE/MANIFEST" ]] || { echo "gpu_check.sh: no bundle at $BUNDLE (scripts/gpu_bundle.sh makes one; --build builds here instead)" >&2; exit 2; }
    BIN=$WORK/bin CONFIGS_DIR=$BUNDLE/configs DATA_DIR=$BUNDLE/data PEER_DIR=$BUNDLE/benchmarks/peer
  fi
  export DRY MODE WORK BIN BUNDLE ROOT="${ROOT:-}" BUILD_DIR="${BUILD_DIR:-}" CONFIGS_DIR DATA_DIR PEER_DIR PY HERE SELF

  {
    echo "started=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "mode=$MODE"
    echo "device=$( ((DRY)) && echo "no GPU (dry run)" || echo unknown)"
    echo "commit=$(info commit | grep . || git -C "$HERE" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "bundle_built=$(info built)"
    echo "budget_s=$BUDGET_S"
  } >"$WORK/meta.txt"
  setup_libraries
  export LIBS_FROM WHEEL_DIRS
  echo "libraries_from=$LIBS_FROM" >>"$WORK/meta.txt"
  if [[ $MODE != build ]]; then
    local t0=$SECONDS
    unpack_binaries
    echo "unpack_s=$((SECONDS - t0))" >>"$WORK/meta.txt"
  fi
  {
    echo "# slimssl GPU check ($MODE)"
    echo
    local built="built here"
    [[ $MODE != build ]] && built="bundle built $(info built)"
    echo "Started $(sed -n 's/^started=//p' "$WORK/meta.txt"); commit $(sed -n 's/^commit=//p' "$WORK/meta.txt"), $built;"
    echo "libraries from $LIBS_FROM; budget $BUDGET_S s."
  } >"$OUTDIR/summary.md"

  for arg in "${STAGES[@]}"; do run_stage "$arg"; done

  local result=passed
  ((FAILED)) && result=failed
  ((DRY)) && result="dry run $result"
  echo "elapsed_s=$((SECONDS - START))" >>"$WORK/meta.txt"
  {
    echo
    echo "## Result: $result in $((SECONDS - START)) s"
    echo
    echo "| stage | status | seconds | note |"
    echo "|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2, $3, $6 }' "$WORK/stages.tsv"
  } >>"$OUTDIR/summary.md"
  write_json "$result"
  sed -n '/^## Result/,$p' "$OUTDIR/summary.md"
  echo "gpu_check: $result; $OUTDIR: $(cd "$OUTDIR" && ls | paste -sd' ')"
  ((!FAILED))
}

SELF=$(readlink -f "${BASH_SOURCE[0]}")
HERE=$(dirname "$SELF")
# The bundle: the folder this copy was packed into, else .carry/gpu in the source tree.
if [[ -f "$HERE/../MANIFEST" ]]; then BUNDLE=${SLIMSSL_BUNDLE:-$(cd "$HERE/.." && pwd)}
else BUNDLE=${SLIMSSL_BUNDLE:-$(cd "$HERE/.." && pwd)/.carry/gpu}; fi

if [[ "${1:-}" == --stage ]]; then
  # A misspelt command in a stage must fail it, even where its exit status is not looked at.
  command_not_found_handle() {
    echo "gpu_check.sh: $1: command not found" | tee -a "$WORK/notes/$STAGE_NAME.broken" >&2
    return 127
  }
  shift
  "$@"
  exit $?
fi
main "$@"
