import Foundation

/// How the network is trained. The served network is the same either way (PROTOCOL.md §4: no
/// biases, ReLU, the input of every layer L2-normalised at inference); the recipes differ in what
/// the optimiser sees, and that changes how robust the result is to the client's noise.
public enum TrainingRecipe: String, Codable, Sendable, CaseIterable {
    /// Every layer's input is L2-normalised during training, exactly as at inference (the
    /// project's recipe; optionally with the protocol's noise injected).
    case normalised
    /// The authors' recipe: no normalisation during training (pixels in [−1, 1] straight into the
    /// first layer), noise-free. With no biases and ReLU, normalising at inference only rescales
    /// each layer's output, so the noise-free predictions are the same; the robustness is not.
    case plain

    /// Parses a `--recipe` argument.
    public init(argument: String) throws(Trainer.ConfigurationError) {
        guard let r = TrainingRecipe(rawValue: argument.lowercased()) else { throw .badRecipe(argument) }
        self = r
    }

    public var summary: String {
        switch self {
        case .normalised: "L2-normalised before every layer during training, as at inference"
        case .plain: "authors' plain recipe: no normalisation during training, noise-free"
        }
    }
}

/// The inference SNR F of the noise injected during training, per epoch.
public enum NoiseSchedule: Codable, Sendable, Equatable, CustomStringConvertible {
    /// The training SNR in every epoch.
    case constant
    /// Curriculum: F falls geometrically from `startSNR` in epoch 1 to the training SNR in epoch
    /// `epochs`, and stays there.
    case curriculum(startSNR: Double, epochs: Int)

    /// Parses `constant` or `curriculum:F0:E` (e.g. `curriculum:8:10`).
    public init(argument: String) throws(Trainer.ConfigurationError) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first {
        case "constant" where parts.count == 1:
            self = .constant
        case "curriculum" where parts.count == 3:
            guard let f0 = Double(parts[1]), f0 > 0, f0.isFinite, let e = Int(parts[2]), e >= 2 else {
                throw .badSchedule(argument)
            }
            self = .curriculum(startSNR: f0, epochs: e)
        default:
            throw .badSchedule(argument)
        }
    }

    /// The training SNR of `epoch` (1-based) for a target `snr`; 0 (noise-free) stays 0.
    public func snr(epoch: Int, target snr: Double) -> Double {
        guard snr > 0 else { return 0 }
        switch self {
        case .constant:
            return snr
        case let .curriculum(f0, epochs):
            guard epoch < epochs else { return snr }
            let t = Double(max(0, epoch - 1)) / Double(epochs - 1)
            return f0 * pow(snr / f0, t)
        }
    }

    public var description: String {
        switch self {
        case .constant: "constant"
        case let .curriculum(f0, e): "curriculum:\(f0):\(e)"
        }
    }
}

extension Trainer {
    /// A training configuration qbench refuses before spending any time on it.
    public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
        case badRecipe(String)
        case badSchedule(String)
        case noisyPlainRecipe(snr: Double)
        case scheduleWithoutNoise
        case outOfRange(option: String, value: Double, expected: String)

        public var description: String {
            switch self {
            case let .badRecipe(s):
                "unknown training recipe '\(s)': use \(TrainingRecipe.allCases.map(\.rawValue).joined(separator: " or ")) (docs/low-leakage.md)"
            case let .badSchedule(s):
                "noise schedule '\(s)' is not 'constant' or 'curriculum:F0:E' (start SNR F0 > 0, E ≥ 2 epochs), e.g. curriculum:8:10"
            case let .noisyPlainRecipe(f):
                "the plain recipe is the authors' noise-free one; got --noise-snr \(f): pass --noise-snr 0, or use --recipe normalised for noise-aware training"
            case .scheduleWithoutNoise:
                "a curriculum noise schedule needs a training SNR: pass --noise-snr F > 0 (the SNR the curriculum ends at)"
            case let .outOfRange(o, v, e):
                "\(o) is \(v); it must be \(e)"
            }
        }
    }
}

extension Trainer.Configuration {
    /// Checks the options against each other; throws what to change.
    public func validated() throws(Trainer.ConfigurationError) -> Self {
        guard epochs >= 1 else { throw .outOfRange(option: "epochs", value: Double(epochs), expected: "≥ 1") }
        guard batchSize >= 1 else { throw .outOfRange(option: "batch size", value: Double(batchSize), expected: "≥ 1") }
        guard learningRate > 0, learningRate.isFinite else { throw .outOfRange(option: "learning rate", value: learningRate, expected: "> 0") }
        guard (0...1).contains(finalLearningRateFraction) else {
            throw .outOfRange(option: "final learning-rate fraction", value: finalLearningRateFraction, expected: "in [0, 1] (1: constant)")
        }
        guard trainingSNR >= 0, trainingSNR.isFinite else { throw .outOfRange(option: "noise SNR", value: trainingSNR, expected: "≥ 0 (0: noise-free)") }
        if let s = selectionSNR, !(s >= 0 && s.isFinite) {
            throw .outOfRange(option: "selection SNR", value: s, expected: "≥ 0 (0: select on noise-free validation accuracy)")
        }
        guard validationImages >= 1 else { throw .outOfRange(option: "validation images", value: Double(validationImages), expected: "≥ 1") }
        if recipe == .plain, trainingSNR > 0 { throw .noisyPlainRecipe(snr: trainingSNR) }
        if case .curriculum = noiseSchedule, trainingSNR == 0 { throw .scheduleWithoutNoise }
        return self
    }

    /// The SNR at which the validation split picks the epoch: the selection SNR if set, else the
    /// training SNR (0: noise-free accuracy).
    public var effectiveSelectionSNR: Double { selectionSNR ?? trainingSNR }
}
