#!/usr/bin/env bash
# slimssl beside its PyTorch peer, in one command (docs/cpu_performance.md, benchmarks/peer/).
#
#   benchmarks/run_peer.sh [cpu|gpu] [options of benchmarks/peer/compare.py ...]
#
# cpu (the default): first benchmarks/peer/check.py proves that the peer computes what slimssl
#   computes (parameter counts, MACs, and the losses of two optimizer steps from the same weights
#   and views), then compare.py runs both engines on the demo's training step and on ResNet-18's
#   forward + backward, 1 and 2 threads (OMP_WAIT_POLICY=PASSIVE), 3 repeats, and prints the table
#   of images per CPU-second with the ratios. About 10 minutes on 2 cores.
# gpu: slimssl's step of cifar10_slimclr_mocov2_resnet18 beside the peer, eager and torch.compile,
#   bf16 autocast and channels-last (scripts/gpu_check.sh runs the same through its step_bench stage).
#
# Environment: SLIMSSL (the binary, default build/bin/slimssl), PEER_PYTHON (a Python with torch;
# default: /work/venv-peer/bin/python, made by benchmarks/peer/install.sh, else python3).
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=cpu
if [[ $# -gt 0 && ( $1 == cpu || $1 == gpu ) ]]; then MODE=$1; shift; fi
SLIMSSL=${SLIMSSL:-build/bin/slimssl}
[[ -x "$SLIMSSL" ]] || { echo "run_peer.sh: no slimssl binary at $SLIMSSL (build it, or set SLIMSSL)" >&2; exit 2; }
PY=${PEER_PYTHON:-}
if [[ -z "$PY" ]]; then
  if [[ -x /work/venv-peer/bin/python ]]; then PY=/work/venv-peer/bin/python; else PY=python3; fi
fi
"$PY" -c 'import torch' 2>/dev/null ||
  { echo "run_peer.sh: $PY has no torch (benchmarks/peer/install.sh makes an environment; or set PEER_PYTHON)" >&2; exit 2; }
export OMP_WAIT_POLICY=PASSIVE
if [[ $MODE == cpu ]]; then
  echo "== the peer computes what slimssl computes (benchmarks/peer/check.py)"
  OMP_NUM_THREADS=2 "$PY" benchmarks/peer/check.py --slimssl "$SLIMSSL" --config fmnist_demo_mocov2 --model resnet18_cifar
  echo
fi
echo "== slimssl beside PyTorch ($MODE)"
exec "$PY" benchmarks/peer/compare.py "$MODE" --slimssl "$SLIMSSL" --python "$PY" "$@"
