#!/usr/bin/env bash
# Installs the PyTorch peer's environment: a virtual environment holding torch from PyPI, made once
# and reused. It is never a build or test dependency of slimssl; only benchmarks/run_peer.sh uses it.
#
#   benchmarks/peer/install.sh [VENV]     (default: $PEER_VENV, else /work/venv-peer)
#
# PyPI's torch wheel for Linux is the CUDA build (a few GiB with its nvidia packages); it runs on
# the CPU as well, which is all the CPU comparison needs.
set -euo pipefail
VENV=${1:-${PEER_VENV:-/work/venv-peer}}
PY=${PYTHON:-python3}
if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  echo "peer environment ready: $VENV (torch $("$VENV/bin/python" -c 'import torch; print(torch.__version__)'))"
  exit 0
fi
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install --upgrade pip
"$VENV/bin/pip" install torch numpy
"$VENV/bin/python" -c 'import torch; print("peer environment ready:", torch.__version__, "threads", torch.get_num_threads())'
