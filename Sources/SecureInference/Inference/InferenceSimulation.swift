import Foundation
import NumericsKit

/// Secure inference of a labelled set under the protocol's noise model (`qbench simulate`).
public struct InferenceSimulation: Sendable {
    public struct Result: Sendable, Equatable, Codable {
        public let images: Int
        public let correct: Int
        public let digitalCorrect: Int
        public let seed: UInt64
        public var accuracy: Double { Double(correct) / Double(max(1, images)) }
        public var digitalAccuracy: Double { Double(digitalCorrect) / Double(max(1, images)) }
    }

    public let network: MNISTNetwork
    public let noise: ProtocolNoiseModel
    /// Images per chunk; chunk k draws from stream k of the seed, so results do not depend on
    /// how the work is scheduled.
    public var chunkSize = 500

    public init(network: MNISTNetwork, noise: ProtocolNoiseModel) {
        self.network = network; self.noise = noise
    }

    public func run(_ set: MNISTSet, seed: UInt64, progress: (_ imagesDone: Int) -> Void = { _ in }) throws(ProtocolDomainError) -> Result {
        var correct = 0, digital = 0
        var start = 0, chunk: UInt64 = 0
        while start < set.count {
            let end = min(set.count, start + chunkSize)
            let part = set.subset(start..<end), inputs = part.images
            var rng = Xoshiro256(seed: seed, stream: chunk)
            let noisy = MNISTNetwork.predictions(try noise.logits(network, batch: inputs, rng: &rng))
            let clean = MNISTNetwork.predictions(network.logits(inputs))
            for i in 0..<part.count {
                if noisy[i] == Int(part.labels[i]) { correct += 1 }
                if clean[i] == Int(part.labels[i]) { digital += 1 }
            }
            start = end; chunk += 1
            progress(end)
        }
        return Result(images: set.count, correct: correct, digitalCorrect: digital, seed: seed)
    }
}
