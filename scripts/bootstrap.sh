#!/usr/bin/env bash
# Installs every system package qbench needs on Debian 12 (Swift itself must already be on PATH).
# Safe to run again: apt skips what is installed. Uses sudo when not root.
set -euo pipefail
packages=(
  pkg-config
  libusb-1.0-0-dev      # USBTMC instruments (BenchIO)
  libgpiod-dev          # GPIO trigger, shutter and interlock lines (BenchIO)
  libopenblas-dev       # matrix kernels (training, batched inner products)
  zlib1g-dev            # MNIST .gz files
  libsqlite3-dev        # the run database (GRDB)
  umockdev libumockdev-dev  # emulated USB and GPIO devices for the bus-level tests
  iproute2              # network namespaces: the two stations as two hosts (scripts/two-stations.sh --netns)
  chromium              # the live page, loaded by a real browser in the tests (docs/live-view.md)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "bootstrap: swift is not on PATH (install Swift 6.3 from swift.org)" >&2; exit 1; }
