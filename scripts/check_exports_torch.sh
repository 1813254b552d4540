#!/usr/bin/env bash
# Every architecture of the zoo through export and PyTorch: a 1-step run on Fashion-MNIST, each
# width exported with --check, and scripts/check_export_torch.py loading it strictly into the
# torchvision / timm model and comparing features. Not part of CI (it needs torch, torchvision,
# timm and safetensors: PYTHON=/path/to/venv/bin/python).
#   usage: scripts/check_exports_torch.sh [MODEL ...]     (default: every model of `slimssl models`)
set -euo pipefail
cd "$(dirname "$0")/.."
SLIMSSL=${SLIMSSL:-build/bin/slimssl}
PYTHON=${PYTHON:-python3}
OUT=${OUT:-runs/export_check}
models=("$@")
if [ ${#models[@]} -eq 0 ]; then
  mapfile -t models < <("$SLIMSSL" models --json --widths 1.0 2>/dev/null | "$PYTHON" -c \
    "import json, sys; print('\n'.join(r['model'] for r in json.load(sys.stdin)))")
fi
failed=0
for m in "${models[@]}"; do
  size=32
  [ "$m" = deit_tiny ] && size=224  # its position embedding is for 224 px
  run="$OUT/$m"
  rm -rf "$run"
  "$SLIMSSL" train --config fmnist_demo --out "$run" --quiet model="$m" image_size=$size train_subset=64 \
    batch_size=32 queue_size=64 max_steps=1 slim_start_epoch=0 knn_bank_size=64 knn_test_size=32 >/dev/null
  for w in 1.0 0.5 0.25; do
    "$SLIMSSL" export "$run" --width $w --out "$run/w$w.safetensors" --check "$run/check_w$w.safetensors" >/dev/null
    "$PYTHON" scripts/check_export_torch.py "$run/w$w.safetensors" "$run/check_w$w.safetensors" || failed=1
  done
done
exit $failed
