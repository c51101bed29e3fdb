import Foundation
import NumericsKit

/// The served network (PROTOCOL.md §4): 784 → 784 → 10, fully connected, no biases, ReLU, the
/// input of every optical layer L2-normalised, arg-max of the last layer.
public struct MNISTNetwork: Sendable, Equatable {
    /// Weight matrices, rows = output units: [784×784, 10×784].
    public var layers: [Matrix]

    public init(layers: [Matrix]) {
        // Programming errors only: ModelFile.decode checks both conditions on a file before
        // building a network, and training builds it from sizes it chose.
        precondition(!layers.isEmpty, "a network needs at least one layer")
        for k in 1..<layers.count {
            precondition(layers[k].cols == layers[k - 1].rows, "layer \(k) takes \(layers[k].cols) inputs, layer \(k - 1) gives \(layers[k - 1].rows)")
        }
        self.layers = layers
    }

    public static let architecture = [784, 784, 10]

    /// PyTorch-style uniform initialisation U(−1/√fan_in, 1/√fan_in).
    public static func initialised(sizes: [Int] = architecture, seed: UInt64) -> MNISTNetwork {
        var rng = Xoshiro256(seed: seed)
        let layers = (1..<sizes.count).map { k in
            let bound = 1 / Double(sizes[k - 1]).squareRoot()
            return Matrix(rows: sizes[k], cols: sizes[k - 1],
                          values: (0..<(sizes[k] * sizes[k - 1])).map { _ in Float((2 * rng.nextUnit() - 1) * bound) })
        }
        return MNISTNetwork(layers: layers)
    }

    public var inputSize: Int { layers[0].cols }
    public var outputSize: Int { layers[layers.count - 1].rows }
    /// Inner products per image: the sum of the layers' output sizes (794 for MNIST).
    public var innerProductsPerImage: Int { layers.reduce(0) { $0 + $1.rows } }
    /// Optical modes per image: Σ rows × ⌈inputs/2⌉ (311,248 for MNIST).
    public var modesPerImage: Int { layers.reduce(0) { $0 + $1.rows * (($1.cols + 1) / 2) } }

    /// Noise-free logits of a batch (rows = images, values in [−1, 1]).
    public func logits(_ batch: Matrix) -> Matrix {
        forward(batch) { _, _ in }
    }

    /// The forward pass with a hook that perturbs each layer's pre-activations in place (the
    /// protocol's client noise, or nothing): normalise, multiply, perturb, ReLU (not after the last).
    public func forward(_ batch: Matrix, perturb: (_ layer: Int, _ preActivations: inout Matrix) -> Void) -> Matrix {
        var x = batch
        for (k, w) in layers.enumerated() {
            normaliseRows(&x)
            var y = Matrix(rows: x.rows, cols: w.rows)
            gemm(x, w, transposeB: true, into: &y)
            perturb(k, &y)
            if k < layers.count - 1 { relu(&y) }
            x = y
        }
        return x
    }

    /// Arg-max class per row.
    public static func predictions(_ logits: Matrix) -> [Int] {
        (0..<logits.rows).map { r in
            var best = 0
            var bestValue = -Float.infinity
            for c in 0..<logits.cols where logits[r, c] > bestValue { bestValue = logits[r, c]; best = c }
            return best
        }
    }

    public static func accuracy(_ predictions: [Int], labels: [UInt8]) -> Double {
        Double(zip(predictions, labels).filter { $0 == Int($1) }.count) / Double(max(1, labels.count))
    }
}

/// x ← x / ‖x‖ per row; all-zero rows stay zero.
public func normaliseRows(_ m: inout Matrix) {
    let cols = m.cols
    m.values.withUnsafeMutableBufferPointer { v in
        for r in 0..<m.rows {
            var s: Float = 0
            for c in 0..<cols { s += v[r * cols + c] * v[r * cols + c] }
            guard s > 0 else { continue }
            let inv = 1 / s.squareRoot()
            for c in 0..<cols { v[r * cols + c] *= inv }
        }
    }
}

public func relu(_ m: inout Matrix) {
    m.values.withUnsafeMutableBufferPointer { v in for i in v.indices where v[i] < 0 { v[i] = 0 } }
}
