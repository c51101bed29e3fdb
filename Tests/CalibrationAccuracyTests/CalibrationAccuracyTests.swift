import Foundation
import Testing
import TwinValidation

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// `qbench calibrate all` on the twin against its hidden constants (issue 4's targets: Vπ 0.5 %,
/// bias phase 0.01 rad, SNU scale 1 %, μ 2 %, link transmittance 0.5 %, gain 1 %; efficiency 2 %).
/// Two seeds here; `qbench bench calibration --seeds 20` reports many and the coverage.
@Suite("Calibration against the twin's truth")
struct CalibrationAccuracyTests {
    @Test(arguments: [UInt64(20250801), 6])
    func everyCalibratedQuantityMeetsItsTarget(seed: UInt64) async throws {
        let outcome = try await CalibrationValidation.run(benchFile: repositoryRoot.appendingPathComponent("Devices/benches/sim.yaml"), seed: seed)
        #expect(outcome.checks.count == 11)
        for c in outcome.checks {
            #expect(c.withinTarget, "\(c.name): estimate \(c.estimate) ± \(c.uncertainty), truth \(c.truth), error \(c.error) > target \(c.target)")
            // A stated uncertainty that misses the truth by more than 5σ is a bug in the error budget
            // (bias phases excepted: they keep drifting after their record is written, and the
            // coverage over seeds is measured by `qbench bench calibration`).
            if !c.name.hasPrefix("phase.") { #expect(c.sigmas < 5, "\(c.name): \(c.sigmas) σ from the truth") }
        }
    }

    @Test func reseedReplacesOnlyTheSimulationSeed() throws {
        let text = "bench: x\nroles:\n  a:\n    seed: 5\nsimulation:\n  seed: 20250801\n  symbol-rate: 1 GBd\n"
        let out = CalibrationValidation.reseed(text, seed: 7)
        #expect(out.contains("    seed: 5") && out.contains("  seed: 7") && !out.contains("20250801"))
    }
}
