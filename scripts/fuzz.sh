#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/QBenchFuzz) into .build-fuzz and runs each for a bounded
# time from its seed corpus (Fuzz/corpus/<target>/). Fails on the first crash, hang or
# out-of-memory; the input is kept as Fuzz/findings/<target>/crash-* (replay it with
# `swift run QBenchFuzz <target> FILE`).
#   bash scripts/fuzz.sh [seconds-per-target] [target...]     (default 60 s, every target)
# FUZZ_RUNS=N stops each target after N executions instead of (or before) the time limit.
# FUZZ_CONFIG=debug|release (default release: ~10× more executions per second; debug builds faster).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(bench-file instrument-file calibration-record calibration-index model-file mnist-idx gzip usbtmc-bulk-in ieee-block scpi-response session-message client-image)
fi
config="${FUZZ_CONFIG:-release}"
swift build -c "$config" --scratch-path .build-fuzz --product QBenchFuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DFUZZING >&2
binary=".build-fuzz/$config/QBenchFuzz"
runs_flag=()
[ -n "${FUZZ_RUNS:-}" ] && runs_flag=(-runs="$FUZZ_RUNS")
status=0
for t in "${targets[@]}"; do
  corpus="Fuzz/corpus/$t"
  [ -d "$corpus" ] || { echo "fuzz: no seed corpus $corpus" >&2; exit 2; }
  work="$(mktemp -d)"            # new inputs go here; the committed corpus stays small
  findings="Fuzz/findings/$t"
  mkdir -p "$findings"
  echo "fuzz: $t for ${seconds}s" >&2
  log="$work/log"
  started=$SECONDS
  if QBENCH_FUZZ_TARGET="$t" "$binary" "$work" "$corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -print_final_stats=1 -artifact_prefix="$findings/" "${runs_flag[@]}" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$log" | sed "s/^/fuzz: $t /" >&2 || true
    echo "fuzz: $t ok after $((SECONDS - started)) s" >&2
  else
    tail -40 "$log" >&2
    echo "fuzz: $t FAILED after $((SECONDS - started)) s; the input is in $findings/" >&2
    status=1
  fi
  rm -rf "$work"
  rmdir "$findings" 2>/dev/null || true
done
exit $status
