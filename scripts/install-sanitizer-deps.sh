#!/usr/bin/env bash
# The compiler of the checking builds (scripts/sanitize.sh, scripts/fuzz.sh): clang with its
# sanitizer and libFuzzer runtimes, from Debian.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null
