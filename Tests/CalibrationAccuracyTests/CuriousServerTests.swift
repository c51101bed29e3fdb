import BenchKit
import Foundation
import SecureInference
import Testing
import TwinValidation

/// PROTOCOL.md §7's curious server, on the twin: its estimate of every image's data pattern
/// |ξ_j|² from the returned excess noise is efficient (it reaches, and cannot beat, the exact
/// Cramér–Rao bound for R rows of samples) and stays within the conservative data-leakage bound.
/// The Cramér–Rao form behind the project's I_x (n measurements per symbol) is NOT a bound on it:
/// the server measures each mode once per row (R = 784 > n = 392); docs/server-check.md reports it.
@Suite("Curious server on the twin")
struct CuriousServerTests {
    @Test func curiousServerIsEfficientAndWithinTheConservativeBound() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let model = try ModelFile.read(from: root.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        let testSet = try MNISTSet.load(.test, directory: root.appendingPathComponent("Data/mnist"), limit: 16)
        let (r, run) = try await CuriousServer.measure(benchFile: root.appendingPathComponent("Devices/benches/sim.yaml"), images: 16,
                                                       model: model, testSet: testSet)
        print("curious server: MSE/exact bound \(r.ratioToExactBound), MSE/I_x bound \(r.ratioToAuthorsBound), \(r.bitsPerSymbol) bit/symbol")
        #expect(r.estimates == 16 * 392 && r.rowsPerEstimate == 784)
        #expect(!run.aborted)
        // 6,272 estimates: the MSE is known to ±3.6 % (1σ); it cannot go below the exact bound.
        #expect(r.ratioToExactBound > 0.88 && r.ratioToExactBound < 1.15, "MSE / exact bound = \(r.ratioToExactBound)")
        let conservative = try DataLeakage.conservativeBits(amplifier: try ClientAmplifier(gain: 2), modesPerRow: 392, innerProducts: 794)
        #expect(r.bitsPerSymbol < conservative)
        #expect(r.bitsPerSymbol <= r.boundBitsPerSymbol * 1.15)
    }
}
