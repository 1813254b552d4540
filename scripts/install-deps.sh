#!/usr/bin/env bash
# The Debian packages slimssl builds with, and the embedded default data set (Fashion-MNIST).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  cmake ninja-build g++ libomp-dev nlohmann-json3-dev libstb-dev catch2 zlib1g-dev \
  dataset-fashion-mnist >/dev/null
