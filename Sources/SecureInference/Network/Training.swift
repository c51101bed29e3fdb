import Foundation
import NumericsKit

/// Training of the served network in Swift: mini-batch Adam on softmax cross-entropy, matrix
/// products through OpenBLAS. Two recipes (`TrainingRecipe`): `normalised` L2-normalises every
/// layer's input as the inference does and may be noise-aware: every inner product gets the
/// protocol's client noise N(0, (rms_w/√F)²) during training, F constant or on a curriculum (the
/// noise scale is differentiated too, so the network cannot buy SNR by growing its weights: only
/// by aligning them with the data); `plain` is the authors' recipe, no normalisation, noise-free.
public struct Trainer: Sendable {
    public struct Configuration: Sendable, Codable, Equatable {
        public var epochs = 30
        public var batchSize = 128
        public var learningRate = 1e-3
        /// Final learning rate as a fraction of the initial one (cosine decay).
        public var finalLearningRateFraction = 0.05
        /// Inference SNR F of the injected noise; 0 trains noise-free.
        public var trainingSNR = 4.0
        public var validationImages = 5000
        public var seed: UInt64 = 1
        /// What the optimiser sees (absent in files written before recipes existed: `normalised`).
        public var recipe = TrainingRecipe.normalised
        /// How the training SNR moves over the epochs (absent in older files: `constant`).
        public var noiseSchedule = NoiseSchedule.constant
        /// SNR F at which the held-out validation split picks the epoch; nil: the training SNR.
        public var selectionSNR: Double?
        public init() {}

        enum CodingKeys: String, CodingKey {
            case epochs, batchSize, learningRate, finalLearningRateFraction, trainingSNR, validationImages, seed
            case recipe, noiseSchedule, selectionSNR
        }

        /// Keys added after format version 1 was first written are optional: older files load
        /// with the behaviour they were trained with (normalised, constant noise).
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            epochs = try c.decode(Int.self, forKey: .epochs)
            batchSize = try c.decode(Int.self, forKey: .batchSize)
            learningRate = try c.decode(Double.self, forKey: .learningRate)
            finalLearningRateFraction = try c.decode(Double.self, forKey: .finalLearningRateFraction)
            trainingSNR = try c.decode(Double.self, forKey: .trainingSNR)
            validationImages = try c.decode(Int.self, forKey: .validationImages)
            seed = try c.decode(UInt64.self, forKey: .seed)
            recipe = try c.decodeIfPresent(TrainingRecipe.self, forKey: .recipe) ?? .normalised
            noiseSchedule = try c.decodeIfPresent(NoiseSchedule.self, forKey: .noiseSchedule) ?? .constant
            selectionSNR = try c.decodeIfPresent(Double.self, forKey: .selectionSNR)
        }
    }

    public struct EpochReport: Sendable, Codable, Equatable {
        public let epoch: Int
        public let loss: Double
        public let validationAccuracy: Double
        /// Validation accuracy under noise at the selection SNR (the digital one if that is 0).
        public let validationNoisyAccuracy: Double
        public let seconds: Double
        /// SNR F of the noise injected in this epoch (absent in older files).
        public var trainingSNR: Double?
        public init(epoch: Int, loss: Double, validationAccuracy: Double, validationNoisyAccuracy: Double, seconds: Double, trainingSNR: Double? = nil) {
            self.epoch = epoch; self.loss = loss; self.validationAccuracy = validationAccuracy
            self.validationNoisyAccuracy = validationNoisyAccuracy; self.seconds = seconds; self.trainingSNR = trainingSNR
        }
    }

    public let configuration: Configuration
    public init(configuration: Configuration) { self.configuration = configuration }

    /// Trains on `set` minus a held-out validation split; returns the network of the epoch with
    /// the best validation accuracy under noise at the selection SNR (digital if that is 0). The
    /// test set is never seen here: selection uses the validation split only.
    public func train(on set: MNISTSet, report: (EpochReport) -> Void = { _ in }) throws(ConfigurationError) -> (network: MNISTNetwork, history: [EpochReport]) {
        let c = try configuration.validated()
        guard set.pixelsPerImage == MNISTSet.standardPixels else {
            throw .outOfRange(option: "pixels per image", value: Double(set.pixelsPerImage), expected: "28 × 28 = \(MNISTSet.standardPixels) (the network's inputs)")
        }
        guard c.validationImages < set.count else {
            throw .outOfRange(option: "validation images", value: Double(c.validationImages), expected: "fewer than the \(set.count) training images")
        }
        var rng = Xoshiro256(seed: c.seed)
        var order = Array(0..<set.count)
        order.shuffle(using: &rng)
        let validation = set.subset(order.prefix(c.validationImages)), validationInputs = validation.images
        let training = set.subset(order.dropFirst(c.validationImages))

        var network = MNISTNetwork.initialised(seed: c.seed &+ 1)
        var adam = network.layers.map { AdamState(count: $0.values.count) }
        var best = (accuracy: -1.0, network: network)
        var history: [EpochReport] = []
        let sampler = Gaussian.Sampler()
        let stepsPerEpoch = training.count / c.batchSize
        let totalSteps = stepsPerEpoch * c.epochs
        var step = 0
        var indices = Array(0..<training.count)

        for epoch in 1...c.epochs {
            let started = Date()
            indices.shuffle(using: &rng)
            var lossSum = 0.0
            let snr = c.noiseSchedule.snr(epoch: epoch, target: c.trainingSNR)
            for b in 0..<stepsPerEpoch {
                let batch = training.subset(indices[(b * c.batchSize)..<((b + 1) * c.batchSize)])
                let progress = Double(step) / Double(max(1, totalSteps))
                let lr = c.learningRate * (c.finalLearningRateFraction + (1 - c.finalLearningRateFraction) * 0.5 * (1 + cos(Double.pi * progress)))
                var grads: [Matrix] = []
                lossSum += lossAndGradients(network, batch, snr: snr, sampler: sampler, rng: &rng, into: &grads)
                for k in network.layers.indices { adam[k].update(&network.layers[k], gradient: grads[k], learningRate: lr) }
                step += 1
            }
            let digital = MNISTNetwork.accuracy(MNISTNetwork.predictions(network.logits(validationInputs)), labels: validation.labels)
            var noisy = digital
            let selection = c.effectiveSelectionSNR
            if selection > 0 {
                var vrng = Xoshiro256(seed: c.seed, stream: 0xFA11)
                noisy = MNISTNetwork.accuracy(MNISTNetwork.predictions(noisyLogits(network, validationInputs, snr: selection, sampler: sampler, rng: &vrng)), labels: validation.labels)
            }
            let entry = EpochReport(epoch: epoch, loss: lossSum / Double(stepsPerEpoch), validationAccuracy: digital,
                                    validationNoisyAccuracy: noisy, seconds: Date().timeIntervalSince(started),
                                    trainingSNR: snr)
            history.append(entry)
            report(entry)
            if noisy > best.accuracy { best = (noisy, network) }
        }
        return (best.network, history)
    }

    func noisyLogits(_ net: MNISTNetwork, _ x: Matrix, snr: Double, sampler: Gaussian.Sampler, rng: inout Xoshiro256) -> Matrix {
        let sigmas = net.layers.map { Float(rms($0) / snr.squareRoot()) }
        var local = rng
        let out = net.forward(x) { k, y in
            y.values.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] += sigmas[k] * Float(sampler.next(&local)) } }
        }
        rng = local
        return out
    }

    /// Forward and backward pass of one batch; returns the mean cross-entropy. The recipe decides
    /// whether each layer's input is L2-normalised (normalised) or used as it is (plain).
    func lossAndGradients(_ net: MNISTNetwork, _ batch: MNISTSet, snr: Double, sampler: Gaussian.Sampler,
                          rng: inout Xoshiro256, into grads: inout [Matrix]) -> Double {
        let layerCount = net.layers.count
        var inputs: [Matrix] = []        // normalised input of each layer
        var norms: [[Float]] = []        // row norms before normalisation
        var pre: [Matrix] = []           // pre-activations (with noise)
        var noises: [Matrix] = []        // standard-normal draws used
        let normalising = configuration.recipe == .normalised
        var x = batch.images
        for k in 0..<layerCount {
            if normalising {
                norms.append(rowNorms(x))
                normaliseRows(&x)
            }
            inputs.append(x)
            var y = matmul(x, net.layers[k], transposeB: true)
            var z = Matrix(rows: y.rows, cols: y.cols)
            if snr > 0 {
                let sigma = Float(rms(net.layers[k]) / snr.squareRoot())
                z.values.withUnsafeMutableBufferPointer { v in for i in v.indices { v[i] = Float(sampler.next(&rng)) } }
                for i in y.values.indices { y.values[i] += sigma * z.values[i] }
            }
            noises.append(z)
            pre.append(y)
            if k < layerCount - 1 { relu(&y) }
            x = y
        }
        // Softmax cross-entropy.
        let logits = x
        let classes = logits.cols, n = logits.rows
        var dy = Matrix(rows: n, cols: classes)
        var loss = 0.0
        for r in 0..<n {
            var m = -Float.infinity
            for c in 0..<classes { m = max(m, logits[r, c]) }
            var s: Float = 0
            for c in 0..<classes { s += exp(logits[r, c] - m) }
            let label = Int(batch.labels[r])
            loss += Double(log(s) + m - logits[r, label])
            for c in 0..<classes {
                dy[r, c] = (exp(logits[r, c] - m) / s - (c == label ? 1 : 0)) / Float(n)
            }
        }
        grads = Array(repeating: Matrix(rows: 0, cols: 0), count: layerCount)
        for k in stride(from: layerCount - 1, through: 0, by: -1) {
            var g = matmul(dy, transposeA: true, inputs[k])
            if snr > 0 {
                // d/dW of σ = rms(W)/√F: W / (rms · count · √F), times Σ dy ⊙ z.
                var dSigma: Float = 0
                for i in dy.values.indices { dSigma += dy.values[i] * noises[k].values[i] }
                let w = net.layers[k]
                let r = Float(rms(w))
                let factor = dSigma / (r * Float(w.values.count) * Float(snr.squareRoot()))
                for i in g.values.indices { g.values[i] += factor * w.values[i] }
            }
            grads[k] = g
            guard k > 0 else { break }
            // Back through the normalisation (normalised recipe only) and the ReLU of layer k − 1.
            let dxhat = matmul(dy, net.layers[k])
            let xhat = inputs[k]
            var dh = Matrix(rows: dxhat.rows, cols: dxhat.cols)
            guard normalising else {
                for i in dh.values.indices { dh.values[i] = pre[k - 1].values[i] > 0 ? dxhat.values[i] : 0 }
                dy = dh
                continue
            }
            for r in 0..<dh.rows {
                let norm = norms[k][r]
                guard norm > 0 else { continue }
                var dot: Float = 0
                for c in 0..<dh.cols { dot += xhat[r, c] * dxhat[r, c] }
                for c in 0..<dh.cols {
                    let v = (dxhat[r, c] - xhat[r, c] * dot) / norm
                    dh[r, c] = pre[k - 1][r, c] > 0 ? v : 0
                }
            }
            dy = dh
        }
        return loss / Double(n)
    }
}

/// Root-mean-square of a matrix's entries.
public func rms(_ m: Matrix) -> Double {
    var s = 0.0
    for v in m.values { s += Double(v) * Double(v) }
    return (s / Double(max(1, m.values.count))).squareRoot()
}

func rowNorms(_ m: Matrix) -> [Float] {
    (0..<m.rows).map { r in
        var s: Float = 0
        for v in m.row(r) { s += v * v }
        return s.squareRoot()
    }
}

/// Adam (Kingma and Ba 2015) moment estimates for one parameter tensor.
struct AdamState: Sendable {
    var m: [Float], v: [Float], t = 0
    let beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8
    init(count: Int) { m = .init(repeating: 0, count: count); v = .init(repeating: 0, count: count) }

    mutating func update(_ w: inout Matrix, gradient g: Matrix, learningRate lr: Double) {
        t += 1
        let c1 = 1 - pow(beta1, Float(t)), c2 = 1 - pow(beta2, Float(t))
        let step = Float(lr) * c2.squareRoot() / c1
        for i in w.values.indices {
            m[i] = beta1 * m[i] + (1 - beta1) * g.values[i]
            v[i] = beta2 * v[i] + (1 - beta2) * g.values[i] * g.values[i]
            w.values[i] -= step * m[i] / (v[i].squareRoot() + epsilon)
        }
    }
}
