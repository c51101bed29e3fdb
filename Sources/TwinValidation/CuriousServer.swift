import BenchKit
import BenchSim
import Calibrate
import Foundation
import NumericsKit
import SecureInference
import Sequencer

/// The curious server of PROTOCOL.md §7, measured on the twin: from the returned light of the first
/// layer alone (its own data), the server estimates the client's data pattern q_j = |ξ_j|² of every
/// mode j of every image from the excess noise g|ξ_j|² that mode carries back in each of the layer's
/// rows. The analysis compares its mean-squared error with two Cramér–Rao bounds:
/// - the exact one for this measurement: a variance estimated from R rows of Gaussian samples,
///   Var(q̂) ≥ 2 σ⁴ / (R (η g N0)²) in the receiver's units (σ² the residual variance);
/// - the one behind the project's I_x (PROTOCOL.md §5, the authors' code form), which counts n
///   measurements per symbol and F1 = 2g²x²/σ⁸: in q = x², Var_min(q) = 2 σ⁸ / (n g²) (SNU,
///   σ² = 1 + g q).
/// A ratio MSE / bound below 1 would mean the server learns more than that bound admits.
public final class CuriousServer: ReturnedLightTap, @unchecked Sendable {
    public struct Result: Sendable, Codable {
        public let images: Int
        public let estimates: Int
        public let rowsPerEstimate: Int
        public let meanTrueQ: Double
        public let meanSquaredError: Double
        public let exactBound: Double
        public let authorsBound: Double
        public var ratioToExactBound: Double { meanSquaredError / exactBound }
        public var ratioToAuthorsBound: Double { meanSquaredError / authorsBound }
        /// The information per data symbol in the convention of I_x (PROTOCOL.md §5: σ² = 1 + g x²,
        /// so x = √q and Var(x̂) = MSE/(4q)): ½ log2(1 + 2x²/Var(x̂)) = ½ log2(1 + 8 q² / MSE) at the
        /// mean q. Comparable with `qbench leakage`'s I_x.
        public let bitsPerSymbol: Double
        /// The same with the exact bound in place of the MSE: what an efficient curious server gets.
        public let boundBitsPerSymbol: Double
    }

    let gain: Double
    let efficiency: Double
    let electronicNoise: Double
    let truth: (Int) -> [Double]
    private let lock = NSLock()
    private var sumSquaredError = 0.0, sumExact = 0.0, sumAuthors = 0.0, sumQ = 0.0
    private var estimates = 0, imagesSeen = Set<Int>(), rows = 0

    /// `truth(image)` gives |ξ_j|² of that image's first-layer input (what the client programs).
    public init(gain: Double, receiver: TrustedReceiver, truth: @escaping (Int) -> [Double]) {
        self.gain = gain
        efficiency = receiver.efficiency.value
        electronicNoise = receiver.electronicNoiseVariance.value
        self.truth = truth
    }

    public func returned(block: Int, layer: Int, firstImage: Int, frame: MeasurementFrame, samples: [Float], shots: Int) {
        guard layer == 0 else { return }
        let layout = frame.layout, n = layout.slotsPerShot, modes = layout.modesPerRow
        let g = 2 - 2 / gain
        // The response fit of this burst (X and P slots with an intercept each), as the server's
        // check does: residuals are what the intended amplitudes do not explain.
        var stats = ReturnedLightStatistics()
        frame.accumulate(samples: samples, shots: shots, into: &stats)
        let fit = stats.pooled
        guard fit.degreesOfFreedom > 0, stats.vacuum.count > 2 else { return }
        let u = fit.u, v = fit.v
        let cX = stats.signalX.meanY - u * stats.signalX.mean1 - v * stats.signalX.mean2
        let cP = stats.signalP.meanY - u * stats.signalP.mean1 - v * stats.signalP.mean2
        let vacuumVariance = stats.vacuum.variance
        let n0 = vacuumVariance - electronicNoise
        guard n0 > 0 else { return }
        var local = (se: 0.0, exact: 0.0, authors: 0.0, q: 0.0, count: 0)
        for s in 0..<shots {
            let q = truth(firstImage + s)
            guard q.count == modes else { continue }
            var sum = [Double](repeating: 0, count: modes)
            let base = (s % frame.patternShots) * n
            for r in 0..<layout.rows {
                for j in 0..<modes {
                    let slot = r * layout.slotsPerRow + j
                    let y = Double(samples[s * n + slot])
                    let re = 2 * Double(frame.re[slot]), im = 2 * Double(frame.im[slot])
                    let mean: Double
                    switch frame.pattern[base + slot] {
                    case .x: mean = cX + u * re + v * im
                    case .p: mean = cP + u * im - v * re
                    case .vacuum: continue
                    }
                    sum[j] += (y - mean) * (y - mean)
                }
            }
            for j in 0..<modes {
                let residual = sum[j] / Double(layout.rows)
                let qHat = (residual - vacuumVariance) / (n0 * efficiency * g)
                let sigma2 = n0 * (1 + efficiency * g * q[j]) + electronicNoise
                local.se += (qHat - q[j]) * (qHat - q[j])
                local.exact += 2 * sigma2 * sigma2 / (Double(layout.rows) * pow(n0 * efficiency * g, 2))
                let s2 = 1 + g * q[j]
                local.authors += 2 * pow(s2, 4) / (Double(modes) * g * g)
                local.q += q[j]
                local.count += 1
            }
        }
        lock.lock(); defer { lock.unlock() }
        sumSquaredError += local.se; sumExact += local.exact; sumAuthors += local.authors; sumQ += local.q
        estimates += local.count
        rows = layout.rows
        for s in 0..<shots { imagesSeen.insert(firstImage + s) }
    }

    public var result: Result {
        lock.lock(); defer { lock.unlock() }
        let k = Double(max(estimates, 1))
        let mse = sumSquaredError / k, q = sumQ / k
        return Result(images: imagesSeen.count, estimates: estimates, rowsPerEstimate: rows, meanTrueQ: q, meanSquaredError: mse,
                      exactBound: sumExact / k, authorsBound: sumAuthors / k, bitsPerSymbol: 0.5 * log2(1 + 8 * q * q / mse),
                      boundBitsPerSymbol: 0.5 * log2(1 + 8 * q * q / (sumExact / k)))
    }
}

extension CuriousServer {
    /// Runs an honest session of `images` images on a freshly calibrated twin of `benchFile` with
    /// the curious server listening, and returns its figures.
    public static func measure(benchFile: URL, images: Int, model: ModelFile, testSet: MNISTSet,
                               gain: Double = 2, photons: Double = 4) async throws -> (result: Result, run: RunResult) {
        let description = try BenchDescription.load(benchFile)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-curious-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let store = CalibrationStore(root: scratch.appendingPathComponent("Calibration"), key: .generate())
        let bench = try await Bench.open(description, registry: SimulatedBench.registry())
        var settings = CalibrationSettings()
        settings.photonsPerMode = photons
        settings.gain = gain
        _ = try await CalibrationRunner.all(CalibrationContext(bench: bench, store: store, settings: settings, codeVersion: "validation"))
        let calibration = try await ServerCalibration.load(bench: bench, store: store)
        let tap = CuriousServer(gain: gain, receiver: calibration.serverReceiver) { k in
            ClientEncoding.symbols(testSet.image(k)).map(\.lengthSquared)
        }
        var env = RunEnvironment(bench: bench, store: store, database: try RunDatabase(directory: scratch),
                                 clientDatabase: try RunDatabase(directory: scratch.appendingPathComponent("client")), codeVersion: "validation", arguments: [])
        env.returnedLightTap = tap
        let config = RunConfiguration(benchFile: benchFile.path, modelFile: model.modelID, dataDirectory: "", images: images,
                                      gain: gain, photonsPerMode: photons, blockImages: min(images, 100))
        let run = try await ProtocolRun.start(config, model: model, testSet: testSet, env: env)
        return (tap.result, run)
    }
}
