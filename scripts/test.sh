#!/usr/bin/env bash
# The full test suite: unit and statistical tests, then the bus-level tests that drive the real
# libusb and libgpiod code against devices emulated by umockdev (they need its preload library).
# Instrument, transport and channel tests wait on wall-clock timeouts; they run in their own
# process, before the CPU-heavy statistical and twin tests, which would otherwise starve their
# timers of threads on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
instruments='DriversTests|BenchIOTests'
channel='SessionProtocolTests'
# Both stations over gRPC with mutual TLS on one twin: sockets with keepalive timers and CPU-heavy
# physics, so a process of its own.
stations='StationNetworkTests'
# Both stations as two qbench processes on the twin split at the fibre (scripts/two-stations.sh,
# two network namespaces when run as root, kill -9 of either): CPU-heavy and timed, on their own.
processes='TwoStationTests'
swift build --build-tests
swift build --product qbench
swift test --skip-build --filter "$instruments"
swift test --skip-build --filter "$channel"
swift test --skip-build --filter "$stations"
swift test --skip-build --filter "$processes" --skip LiveViewTests
# The live page in a real browser, alone: its run must keep pace with the page's reader.
swift test --skip-build --filter LiveViewTests
swift test --skip-build --skip "BusTests|$instruments|$channel|$stations|$processes"
LD_PRELOAD="libumockdev-preload.so.0${LD_PRELOAD:+:$LD_PRELOAD}" swift test --skip-build --filter BusTests
