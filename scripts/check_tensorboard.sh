#!/usr/bin/env bash
# CI: TensorBoard's own event loader reads the event files slimssl writes. Installs the tensorboard
# package from PyPI into a virtual environment beside the build, then runs the [tensorboard] tests
# with that Python. Where PyPI cannot be reached the install fails soft and the test says it skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
VENV="$BUILD/tensorboard-venv"
if ! "$VENV/bin/python" -c "import tensorboard" 2>/dev/null; then
  if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check tensorboard; }; then
    echo "check_tensorboard: tensorboard could not be installed (no PyPI, or no python3-venv)" >&2
  fi
fi
PYTHON="$VENV/bin/python"
[ -x "$PYTHON" ] || PYTHON=python3
SLIMSSL_PYTHON="$PYTHON" OMP_WAIT_POLICY=PASSIVE "$BUILD/bin/slimssl_tests" "[tensorboard]"
