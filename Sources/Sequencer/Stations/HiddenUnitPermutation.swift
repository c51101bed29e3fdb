import Foundation
import NumericsKit
import SecureInference

/// A secret relabelling of the hidden units per session (issue 10): layer k's rows and layer k+1's
/// columns permuted alike give the same network (ReLU acts unit by unit), so the client's results
/// are unchanged, but which row of light carries which hidden unit differs from session to session
/// and is known only to the server. What a client learns about "row r" in one session cannot be
/// added to what it learnt about row r in another.
struct HiddenUnitPermutation: Sendable, Equatable {
    /// One permutation per hidden layer (all layers but the last): new row i is old row `order[i]`.
    let orders: [[Int]]

    /// Drawn from the session's secret basis key (its own stream), so a resumed session plays the
    /// same permutation and nothing but the sealed key needs keeping.
    ///
    /// Units move in adjacent pairs (2j, 2j+1): the next layer packs its inputs two per optical mode
    /// (PROTOCOL.md §3.2), so moving pairs only reorders whole modes and leaves every inner product,
    /// both its quadratures included, as it was. Moving single units would re-pair them and change
    /// Im β, and with it how visible a data-dependent attack is (measured: a greedy tap keeping 55 %
    /// went from aborted after 1,900–2,200 images to not aborted within 3,000).
    init(network: MNISTNetwork, basis: SecretBasis) {
        var rng = basis.generator(stream: Self.stream)
        orders = network.layers.dropLast().map { layer in
            var pairs = Array(0..<(layer.rows / 2))
            // Fisher–Yates with an unbiased bounded draw.
            for i in stride(from: pairs.count - 1, to: 0, by: -1) {
                pairs.swapAt(i, Int(UInt64.random(in: 0...UInt64(i), using: &rng)))
            }
            // An odd last unit keeps its place.
            return pairs.flatMap { [2 * $0, 2 * $0 + 1] } + (layer.rows % 2 == 1 ? [layer.rows - 1] : [])
        }
    }

    /// The basis streams are (block << 8 | layer); this one is out of their reach.
    static let stream: UInt64 = .max

    /// The equivalent network with the hidden units relabelled.
    func apply(to network: MNISTNetwork) -> MNISTNetwork {
        var layers = network.layers
        for (k, order) in orders.enumerated() {
            let w = layers[k]
            var rows = [Float](); rows.reserveCapacity(w.values.count)
            for r in order { rows.append(contentsOf: w.row(r)) }
            layers[k] = Matrix(rows: w.rows, cols: w.cols, values: rows)
            let next = layers[k + 1]
            var cols = [Float](repeating: 0, count: next.values.count)
            for r in 0..<next.rows {
                for (i, old) in order.enumerated() { cols[r * next.cols + i] = next.values[r * next.cols + old] }
            }
            layers[k + 1] = Matrix(rows: next.rows, cols: next.cols, values: cols)
        }
        return MNISTNetwork(layers: layers)
    }
}
