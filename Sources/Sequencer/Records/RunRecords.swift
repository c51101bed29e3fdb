import Foundation
import NumericsKit
import SecureInference

/// Everything that defines a run; stored with it so `--resume` continues exactly this run.
public struct RunConfiguration: Sendable, Codable, Equatable {
    public var benchFile: String
    public var modelFile: String
    public var dataDirectory: String
    public var images: Int
    public var gain: Double
    public var photonsPerMode: Double
    public var blockImages: Int
    /// honest | greedy-tap:R | over-amplify:G2 | intercept-resend (a twin behaviour of the client).
    public var client: String
    public var budgetBitsPerMode: Double
    public var delta: Double
    public var vacuumSlotsPerRow: Int
    /// Keep raw returned samples of the first blocks (bounded by `rawSampleLimit` floats).
    public var keepRawSamples: Bool
    public var rawSampleLimit: Int
    /// Shots per trigger burst, fixed when the session starts (so a resume plays the same bursts);
    /// nil in records older than it: the station's `chunkShots` then.
    public var shotsPerBurst: Int?
    /// The calibration folder the run's preflight read (so a resume reads the same records); nil in
    /// records older than it.
    public var calibrationStore: String?

    public init(benchFile: String, modelFile: String, dataDirectory: String, images: Int = 10_000, gain: Double = 2,
                photonsPerMode: Double = 4, blockImages: Int = 100, client: String = "honest",
                budgetBitsPerMode: Double = 0.1, delta: Double = 1e-6, vacuumSlotsPerRow: Int = 392,
                keepRawSamples: Bool = false, rawSampleLimit: Int = 4_000_000) {
        self.benchFile = benchFile; self.modelFile = modelFile; self.dataDirectory = dataDirectory
        self.images = images; self.gain = gain; self.photonsPerMode = photonsPerMode; self.blockImages = blockImages
        self.client = client; self.budgetBitsPerMode = budgetBitsPerMode; self.delta = delta
        self.vacuumSlotsPerRow = vacuumSlotsPerRow; self.keepRawSamples = keepRawSamples; self.rawSampleLimit = rawSampleLimit
    }
}

extension RunConfiguration {
    /// Shots per trigger burst a session may play (memory per burst grows with it).
    public static let burstShotsRange = 1...1024

    /// A configuration value out of range, with the option that sets it.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public let option: String
        public let problem: String
        public var description: String { "\(option): \(problem)" }
    }

    /// The most images a run may ask for: the MNIST test set's 10,000 (`--images 1–10000`).
    public static let maximumImages = 10_000
    public static let gainRange: ClosedRange<Double> = 1.000001...100
    public static let photonsRange: ClosedRange<Double> = 1e-4...1e4
    /// Vacuum slots per row: at least one (the in-band shot-noise reference); the default is one
    /// per signal mode, 392.
    public static let vacuumSlotRange = 1...65_536
    public static let rawSampleLimitRange = 0...100_000_000

    /// Checks every value against the range the engine handles, so neither an option nor a run
    /// record read back from the database (a flipped byte, a hand edit) reaches a trap, a
    /// nonsense run or a check that cannot mean anything. Each problem names the option that sets
    /// the value. What needs the model and the test set is `validate(model:testImages:)`.
    public func validate() throws(Invalid) {
        func fail(_ option: String, _ problem: String) -> Invalid { Invalid(option: option, problem: problem) }
        guard (1...Self.maximumImages).contains(images) else {
            throw fail("--images", "\(images) images; give 1 … \(Self.maximumImages)")
        }
        guard (1...Self.maximumImages).contains(blockImages) else {
            throw fail("--block-images", "\(blockImages) images per block; give 1 … \(Self.maximumImages) (a block larger than the run is the whole run)")
        }
        if let s = shotsPerBurst, !Self.burstShotsRange.contains(s) {
            throw fail("--burst-shots", "\(s) shots per burst; give \(Self.burstShotsRange.lowerBound) … \(Self.burstShotsRange.upperBound)")
        }
        guard gain.isFinite, Self.gainRange.contains(gain) else {
            throw fail("--gain", "gain G = \(gain); the client's amplifier needs 1 < G ≤ 100")
        }
        guard photonsPerMode.isFinite, Self.photonsRange.contains(photonsPerMode) else {
            throw fail("--photons", "μ = \(photonsPerMode) photons per mode; give a finite μ in [\(Self.photonsRange.lowerBound), \(Self.photonsRange.upperBound)]")
        }
        // The server's check refuses what it cannot make a statement with (LeakageCheck's ranges).
        guard budgetBitsPerMode.isFinite, LeakageCheck.budgetRange.contains(budgetBitsPerMode) else {
            throw fail("--budget", "a leakage budget of \(budgetBitsPerMode) bit/mode; give a finite budget in [\(LeakageCheck.budgetRange.lowerBound), \(LeakageCheck.budgetRange.upperBound)], e.g. 0.1")
        }
        guard delta.isFinite, LeakageCheck.deltaRange.contains(delta) else {
            throw fail("--delta", "δ = \(delta); give an error probability in [\(LeakageCheck.deltaRange.lowerBound), \(LeakageCheck.deltaRange.upperBound)], e.g. 1e-6 (looser is not a security statement)")
        }
        guard Self.vacuumSlotRange.contains(vacuumSlotsPerRow) else {
            throw fail("--vacuum-slots", "\(vacuumSlotsPerRow) vacuum slots per row; give \(Self.vacuumSlotRange.lowerBound) … \(Self.vacuumSlotRange.upperBound), e.g. 392")
        }
        guard Self.rawSampleLimitRange.contains(rawSampleLimit) else {
            throw fail("raw sample limit", "\(rawSampleLimit) samples; give 0 … \(Self.rawSampleLimitRange.upperBound)")
        }
        guard ClientBehaviour(argument: client) != nil else {
            throw fail("--client", "'\(client)'; give honest, greedy-tap:R, over-amplify:G2 or intercept-resend")
        }
    }
}

public enum RunStatus: String, Sendable, Codable, CaseIterable {
    case running, completed
    /// The server's check stopped serving the client.
    case aborted
    /// An error (device fault, calibration refused, …) ended the run.
    case failed
    /// SIGINT/SIGTERM or an interlock: resumable.
    case interrupted
}

/// One station's view after each block (cumulative over the run so far): the server's check as
/// the server measured it (no accuracy: the predictions are the client's), or, in the client's
/// records, its accuracy beside the server's verdict as received.
public struct BlockRecord: Sendable, Codable, Equatable {
    public var blockIndex: Int
    public var imagesDone: Int
    public var correct: Int?
    public var accuracy: Double?
    public var modes: Int
    public var vacuumSlots: Int
    public var transmittance: Double
    public var transmittanceStandardError: Double
    public var transmittanceLowerBound: Double
    public var excessNoise: Double
    public var excessNoiseStandardError: Double
    public var excessNoiseUpperBound: Double
    public var weightLeakageBitsPerMode: Double
    public var weightLeakageLowerBound: Double
    public var weightLeakageUpperBound: Double
    public var dataLeakageBits: Double
    public var decision: String
    public var reason: String
    public var wallSeconds: Double
    /// The server receiver's clipped samples in the session so far (a session with any cannot certify).
    public var clippedSamples: Int?
}

/// The result of a run: exactly the keys of `qbench run --json`.
public struct RunResult: Sendable, Codable, Equatable {
    public var runId: String
    public var bench: String
    public var images: Int
    /// The client's accuracy (nil in the server's records: it never sees a prediction).
    public var accuracy: Double?
    public var aborted: Bool
    public var abortReason: String?
    public var certified: Bool
    public var blocks: Int
    public var modes: Int
    public var transmittanceEstimate: Double
    public var excessNoiseEstimate: Double
    public var excessNoiseUpperBound: Double
    public var weightLeakageBitsPerMode: Double
    public var weightLeakageUpperBoundBitsPerMode: Double
    public var dataLeakageBits: Double
    public var seconds: Double

    enum CodingKeys: String, CodingKey {
        case runId, bench, images, accuracy, aborted, abortReason, certified, blocks, modes, transmittanceEstimate, excessNoiseEstimate
        case excessNoiseUpperBound, weightLeakageBitsPerMode, weightLeakageUpperBoundBitsPerMode, dataLeakageBits, seconds
    }

    /// Every key is written, `abortReason` as null when there is none (the `--json` contract).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(runId, forKey: .runId); try c.encode(bench, forKey: .bench); try c.encode(images, forKey: .images)
        if let accuracy { try c.encode(accuracy, forKey: .accuracy) } else { try c.encodeNil(forKey: .accuracy) }
        try c.encode(aborted, forKey: .aborted)
        if let abortReason { try c.encode(abortReason, forKey: .abortReason) } else { try c.encodeNil(forKey: .abortReason) }
        try c.encode(certified, forKey: .certified); try c.encode(blocks, forKey: .blocks); try c.encode(modes, forKey: .modes)
        try c.encode(transmittanceEstimate, forKey: .transmittanceEstimate); try c.encode(excessNoiseEstimate, forKey: .excessNoiseEstimate)
        try c.encode(excessNoiseUpperBound, forKey: .excessNoiseUpperBound); try c.encode(weightLeakageBitsPerMode, forKey: .weightLeakageBitsPerMode)
        try c.encode(weightLeakageUpperBoundBitsPerMode, forKey: .weightLeakageUpperBoundBitsPerMode)
        try c.encode(dataLeakageBits, forKey: .dataLeakageBits); try c.encode(seconds, forKey: .seconds)
    }
}

/// One row of the run list.
public struct RunSummary: Sendable, Codable, Equatable {
    public var id: String
    public var createdAt: Date
    public var finishedAt: Date?
    public var status: RunStatus
    public var bench: String
    public var modelId: String
    public var seed: UInt64
    public var configuration: RunConfiguration
    public var calibrationIds: [String]
    public var codeVersion: String
    public var arguments: [String]
    public var result: RunResult?
}

/// A journal line: one completed step (or safe-state action, or event), in order.
public struct JournalEntry: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case step, safeState = "safe-state", event, decision }
    public var sequence: Int
    public var at: Date
    public var kind: Kind
    public var step: String
    public var detail: String?
}
