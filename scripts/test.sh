#!/usr/bin/env bash
# The full test suite: unit and statistical tests, then the bus-level tests that drive the real
# libusb and libgpiod code against devices emulated by umockdev (they need its preload library).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build --skip BusTests
LD_PRELOAD="libumockdev-preload.so.0${LD_PRELOAD:+:$LD_PRELOAD}" swift test --skip-build --filter BusTests
