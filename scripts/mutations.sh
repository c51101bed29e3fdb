#!/usr/bin/env bash
# Shows that the test suite can see a breach: applies deliberate defects to a copy of the source
# (the shifts of T̂ and ε̂ that break the budget, PROTOCOL.md §5b, and other ways to weaken the
# server's check), rebuilds, runs the tests that guard the check, and expects each mutant to fail.
# The working tree is never touched: mutants are built in a copy under $MUTATION_DIR (default
# /tmp/qbench-mutations). Prints one line per mutant and exits non-zero if any mutant survives.
# Usage: scripts/mutations.sh [name ...]   (default: every mutant)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${MUTATION_DIR:-/tmp/qbench-mutations}
mkdir -p "$work/src"
find "$work/src" -mindepth 1 -maxdepth 1 ! -name '.build' -exec rm -rf {} +
tar -cf - --exclude='./.build*' --exclude='./.git' . | tar -xf - -C "$work/src"
cd "$work/src"
# Fresh modification times: the compiler skips files older than its last build, and a copy made
# after a previous mutant would otherwise keep that mutant's object code.
find Sources Tests Fuzz -name '*.swift' -exec touch {} +
tests='ServerCheckTests|LeakageBoundTests|DegenerateModelTests|ServerCheckIntegrityTests|ServerCheckSensitivityTests|MarginalAttackTests|StoreTests|StationSessionTests|StationRecordsTests|HiddenUnitPermutationTests|StationFileTests'

# name | file | python expression applied to the file's text (s) | what the defect is [| tests]
# (a fifth field names the tests instead of $tests; BusTests run under the umockdev preload)
mutants=(
  "eps-plus-5e-4|Sources/SecureInference/Verification/ChannelEstimate.swift|s.replace('let eps = ((sr2 - el2) / n0 - 1) / eta', 'let eps = ((sr2 - el2) / n0 - 1) / eta + 5e-4')|ε̂ shifted by +5e-4 SNU"
  "eps-minus-5e-4|Sources/SecureInference/Verification/ChannelEstimate.swift|s.replace('let eps = ((sr2 - el2) / n0 - 1) / eta', 'let eps = ((sr2 - el2) / n0 - 1) / eta - 5e-4')|ε̂ shifted by −5e-4 SNU"
  "t-times-0.9995|Sources/SecureInference/Verification/ChannelEstimate.swift|s.replace('let t = ac / ab', 'let t = 0.9995 * ac / ab')|T̂ scaled by 0.9995"
  "t-times-1.0005|Sources/SecureInference/Verification/ChannelEstimate.swift|s.replace('let t = ac / ab', 'let t = 1.0005 * ac / ab')|T̂ scaled by 1.0005 (a greedy tap hidden)|MarginalAttackTests"
  "no-delta-split|Sources/SecureInference/Verification/LeakageCheck.swift|s.replace('1 - delta / Double(Self.combinedStatements)', '1 - delta')|z = Φ⁻¹(1 − δ): δ not split over the statements"
  "centre-not-corner|Sources/SecureInference/Verification/LeakageCheck.swift|s.replace('for t in [tLo, tHi]', 'for t in [estimate.transmittance]').replace('for e in [eLo, eHi]', 'for e in [estimate.excessNoise]')|I_w bounded at the point estimate, not the corners"
  "abort-needs-20-percent-more|Sources/SecureInference/Verification/LeakageCheck.swift|s.replace('lower > budgetBitsPerMode ? .abort', 'lower > 1.2 * budgetBitsPerMode ? .abort')|an abort needs the leakage 20 % above the budget (a marginal cheater is served on)|MarginalAttackTests"
  "nan-passes|Sources/SecureInference/Verification/LeakageCheck.swift|s.replace('where !value.isFinite {', 'where false {')|non-finite estimates reach the decision"
  "fixed-basis|Sources/Sequencer/Engine/SecretBasis.swift|s.replace('case .secret: SecretBasis(source: .key(SymmetricKey(size: .bits256).withUnsafeBytes { Data(\$0) }))', 'case .secret: SecretBasis(source: .deterministic(1))')|the production basis from a fixed seed"
  "seal-not-verified|Sources/Calibrate/Store/CalibrationRecord.swift|s.replace('key.verify(body, code: parts[2])', 'true')|a calibration record's MAC not checked"
  "clipping-ignored|Sources/Sequencer/Stations/ServerStation+Block.swift|s.replace('clipped += acquired.record.clippedSamples', 'clipped += 0')|clipped samples not counted"
  "privacy-unchecked|Sources/Sequencer/Stations/ClientStation.swift|s.replace('guard bits <= settings.dataLeakageBudgetBits else', 'guard bits.isFinite else')|the client does not check I_x against its budget"
  "ledger-unchecked|Sources/Sequencer/Stations/ServerStation.swift|s.replace('held.chargeBitsPerSymbol + planned > lifetime', 'held.chargeBitsPerSymbol > lifetime')|the ledger ignores what the new session could add"
  "server-keeps-data-path|Sources/Sequencer/Stations/ServerStation.swift|s.replace('stored.dataDirectory = \"\"', 'stored.dataDirectory = configuration.dataDirectory')|the server's record keeps where the client's images are"
  "no-permutation|Sources/Sequencer/Stations/HiddenUnitPermutation.swift|s.replace('pairs.swapAt(i, Int(UInt64.random(in: 0...UInt64(i), using: &rng)))', '_ = UInt64.random(in: 0...UInt64(i), using: &rng)')|the hidden units keep their labels"
  "abort-not-final|Sources/Sequencer/Records/RunDatabase+Decisions.swift|s.replace(\"step = 'abort'\", \"step = 'never'\")|a journaled abort does not stop a resume"
  "fibre-drops-the-client|Sources/BenchSim/Engine/ShotKernel.swift|s.replace('let d = p.back * dRaw', 'let d = p.back * Complex(0) * dRaw')|the twin's returned light loses what the client's optics added"
  "wedge-no-margin|Sources/CKernels/ZigguratSlowPath.c|s.replace('margin = 1e-12 * fa', 'margin = 0 * fa')|the sampler's wedge squeeze decides at the density's rounding (a Gaussian sample's rare path differs from the exact test)|BulkGaussian"
  "avx512-rejected-words-wrong|Sources/CKernels/ZigguratFastPath.c|s.replace('_mm512_maskz_compress_epi32(bad, words)', '_mm512_maskz_compress_epi32(bad, h)')|the AVX-512 fast path hands the rare path the wrong words of its rejected samples (only on a CPU with AVX-512)|BulkGaussian"
  "pattern-bits-word-edge|Sources/CKernels/PatternBits.c|s.replace('if (s > 56)', 'if (s > 57)')|the server's X/P pattern loses a bit where eight slots' bits start at bit 57 of a word (not the bits drawn: a biased basis)|SlotPatternTests"
  "rare-path-exp-skipped|Sources/CKernels/ZigguratSlowPath.c|s.replace('if (verdict < 0) verdict = heights[k] < exp(-0.5 * positions[k] * positions[k]);', 'if (verdict < 0) verdict = 1;')|the batched rare path accepts the wedge samples its squeezes leave open (samples drawn from the wrong density)|ZigguratRarePath"
  "rare-path-retry-from-heights|Sources/CKernels/ZigguratSlowPath.c|s.replace('slow_sample(z, (uint32_t)next(retryRng), retryRng)', 'slow_sample(z, (uint32_t)next(heightRng), retryRng)')|the batched rare path draws its second tries' words from the heights' generator (the samples depend on how the fills are cut)|ZigguratRarePath"
  "avx512-full-step-to-tail|Sources/CKernels/ZigguratFastPath.c|s.replace('if (j + 2 * LANES > m) continue;', 'if (j + 2 * LANES >= m) continue;')|the AVX-512 fast path leaves a block's last full step untested (only on a CPU with AVX-512)|BulkGaussian"
  "burst-sums-float-square|Sources/CKernels/SlotSums.c|s.replace('for (size_t g = 0; g < GROUP; g++) { double v = ys[g]; s1[g] += v; s2[g] += v * v; }', 'for (size_t g = 0; g < GROUP; g++) { double v = ys[g]; s1[g] += v; s2[g] += (double)(ys[g] * ys[g]); }')|the server's burst sums square its samples in single precision (Σy² rounded: the check's variance is off)|ShotSumsTests"
  "streamed-twice-accepted|Sources/SecureInference/Verification/StreamedShots.swift|s.replace('        if let defect { throw', '        if false, let defect { throw')|a burst whose record handed some slots over twice still reaches the check|ShotSumsTests"
  "tile-rows-misplaced|Sources/BenchSim/Engine/ShotKernel.swift|s.replace('let xr = returned.xiRe.base + k * n + min(j0, n), xim = returned.xiIm.base + k * n + min(j0, n)', 'let xr = returned.xiRe.base + k * n, xim = returned.xiIm.base + k * n')|the twin's rows cut by a tile's edge take the wrong modes' ξ|ServerTileTests"
  "blas-fallback-kept|Sources/qbench/Support/NativeKernels.swift|s.replace('guard let core = LinearAlgebraCore.replacementHere else { return }', 'guard let core = LinearAlgebraCore.replacementHere, false else { return }')|qbench keeps OpenBLAS's SSE3 fallback on a CPU it does not know (only where that happens)|NativeKernelsTests"
  "wedge-wrong-convexity|Sources/CKernels/ZigguratSlowPath.c|s.replace('int convex = a >= 1,', 'int convex = a >= 0.5,')|the squeeze takes concave layers for convex (samples drawn from the wrong density)|BulkGaussian"
  "station-file-admits-names|Sources/SessionTransport/ServerStationFile.swift|s.replace('if case .commonName = entry {', 'if case .commonName = entry, false {')|the station file admits a client by common name"
  "no-safety-guard|Sources/qbench/Support/SafetyGuard.swift|s.replace('guard description.bindings.values.contains(where: { \$0.driver != \"sim\" }) else { return }', 'return')|a real bench is driven without a safety guard|BusTests"
  "guard-ignores-release|Sources/qbench/Commands/GuardCommand.swift|s.replace('if line == \"safe\" { released = true }', 'if line == \"safe\" { released = false }')|the guard acts after a normal end too|BusTests"
  "laser-trip-unseen|Sources/Sequencer/Stations/ServerStation+Block.swift|s.replace('guard !emitting else { return }', 'guard false else { return }')|a burst fired after the laser controller switched its output off reaches the check (the honest client aborted)|laserControllerTripStopsTheSessionAndResumes"
  "metrics-abort-uncounted|Sources/qbench/Support/Metrics/StationMetrics.swift|s.replace('if r.aborted { registry', 'if false { registry')|the metrics do not count the check's aborts|StationMetricsTests"
  "voa-no-approach-from-below|Sources/Drivers/Optics/DACVariableAttenuator.swift|s.replace('if try await controlVoltage() > v, v > lowest {', 'if false {')|the VOA moves down in voltage directly (MEMS hysteresis ignored)|DACVariableAttenuatorTests"
  "row-weight-code-swapped|Sources/CKernels/ReturnedSamples.c|s.replace('float wr = c == 0 ? x0 : (c == 1 ? x1 : x2), wi = c == 0 ? y0 : (c == 1 ? y1 : y2);', 'float wr = c == 1 ? x0 : (c == 0 ? x1 : x2), wi = c == 1 ? y0 : (c == 0 ? y1 : y2);')|the twin's server receiver weighs an X slot's returned light with the P quadrature's weight (the measured quadrature is not the pattern's)|ReturnedRowKernel"
  "keystream-counter-little-endian|Sources/Sequencer/Engine/SecretBasis.swift|s.replace('withUnsafeBytes(of: c.bigEndian)', 'withUnsafeBytes(of: c.littleEndian)')|the basis keystream lays its counter out little-endian (BoringSSL increments the last byte: refills overlap, the basis repeats)|SecretBasisKeystream"
  "keystream-counter-not-advanced|Sources/Sequencer/Engine/SecretBasis.swift|s.replace('counter &+= UInt64(blocks)', 'counter &+= 0')|the basis keystream starts every refill at the same block (the secret pattern repeats every 8,192 words)|SecretBasisKeystream"
  "live-devices-stale|Sources/qbench/Support/LiveView/LiveState.swift|s.replace('state.setDevices(await bench.snapshot(of: station), read: \"after block \\(block)\")', '_ = block')|the live page keeps the devices as they were before the run|LiveViewTests"
)

run_tests() {
  if [[ $1 == Bus* ]]; then
    LD_PRELOAD="libumockdev-preload.so.0${LD_PRELOAD:+:$LD_PRELOAD}" swift test --skip-build --filter "$1"
  else
    swift test --skip-build --filter "$1"
  fi
}

selected=("$@")
survivors=0
swift build --build-tests >/dev/null 2>&1 || { echo "the unmutated copy does not build"; exit 2; }
for m in "${mutants[@]}"; do
  IFS='|' read -r name file expr what only <<<"$m"
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $name "* ]]; then continue; fi
  cp "$file" "$file.orig"
  python3 - "$file" "$expr" <<'PY'
import sys
p, expr = sys.argv[1], sys.argv[2]
s = open(p).read()
t = eval(expr)
if t == s:
    sys.exit("mutation did not apply to " + p)
open(p, 'w').write(t)
PY
  started=$(date +%s)
  if ! swift build --build-tests >"$work/$name.build.log" 2>&1; then
    verdict="killed (does not compile)"
  elif run_tests "${only:-$tests}" >"$work/$name.test.log" 2>&1; then
    verdict="SURVIVED"; survivors=$((survivors + 1))
  else
    failing=$(grep -E '^✘ Test [^ ]+' "$work/$name.test.log" | grep -v '^✘ Test run with' | sed -E 's/^✘ Test ([^ (]+).*/\1/' | sort -u | head -4 | paste -sd, -)
    verdict="killed by ${failing:-the suite}"
  fi
  mv "$file.orig" "$file"
  touch "$file"   # newer than the mutant's build, so the next build compiles the original again
  echo "$name ($what): $verdict [$(( $(date +%s) - started )) s]"
done
echo "$survivors mutant(s) survived"
[ "$survivors" -eq 0 ]
