import Numerics
import NumericsKit

/// A weight layer as the server sends it (PROTOCOL.md §2): two real weights per optical mode,
/// c_j = w_{2j} + i w_{2j+1}, scaled per layer so that the mean photon number per mode is μ:
/// α_j = √μ c_j / rms_c(W), rms_c(W)² = mean over all rows and modes of |c|².
public struct EncodedLayer: Sendable {
    /// Rows are output units, columns inputs.
    public let weights: Matrix
    public let photonsPerMode: Double
    /// n = ⌈N_in / 2⌉.
    public let modesPerRow: Int
    /// rms_c(W).
    public let rmsModeWeight: Double

    public init(weights: Matrix, photonsPerMode mu: Double) throws(ProtocolDomainError) {
        try require(mu > 0 && mu.isFinite, "photons per mode μ", mu, "μ > 0")
        try require(weights.rows > 0 && weights.cols > 0, "layer size (rows × columns)", Double(weights.rows * weights.cols), "a layer with at least one row and one column")
        let n = (weights.cols + 1) / 2
        var sumSquares = 0.0
        for r in 0..<weights.rows {
            let row = weights.row(r)
            var rowSquares = 0.0, first = row[row.startIndex], constant = true
            for w in row {
                try require(w.isFinite, "a weight of row \(r)", Double(w), "finite weights (the model file holds NaN or infinity)")
                rowSquares += Double(w) * Double(w)
                if w != first { constant = false }
            }
            // A zero or constant row sends no modulation the server's check can fit a response to
            // (degenerate frames make T̂ rounding noise over rounding noise): refused at load.
            try require(rowSquares > 0, "the norm of row \(r)", rowSquares, "rows with at least one non-zero weight (a zero row is a degenerate model)")
            try require(!constant || weights.cols == 1, "the spread of row \(r)", 0, "rows whose weights are not all equal (a constant row is a degenerate model)")
            sumSquares += rowSquares
        }
        let rms = (sumSquares / Double(weights.rows * n)).squareRoot()
        try require(rms > 0 && rms.isFinite, "rms weight of the layer", rms, "a layer with finite, non-zero weights")
        self.weights = weights
        photonsPerMode = mu
        modesPerRow = n
        rmsModeWeight = rms
    }

    /// √μ / rms_c: amplitude per unit weight.
    public var amplitudeScale: Double { photonsPerMode.squareRoot() / rmsModeWeight }

    /// The n coherent amplitudes of one row (an odd last weight is paired with 0).
    public func amplitudes(row r: Int) -> [Complex<Double>] {
        let w = weights.row(r)
        let base = w.startIndex
        let scale = amplitudeScale
        return (0..<modesPerRow).map { j in
            let re = Double(w[base + 2 * j])
            let im = 2 * j + 1 < weights.cols ? Double(w[base + 2 * j + 1]) : 0
            return Complex(re * scale, im * scale)
        }
    }

    /// Mean photon number of one row's modes, averaged over the row.
    public func meanPhotons(row r: Int) -> Double {
        amplitudes(row: r).reduce(0) { $0 + $1.lengthSquared } / Double(modesPerRow)
    }
}

/// The client's side of the encoding (PROTOCOL.md §3.2): x̂ = z/‖z‖ packed two per mode,
/// ξ_j = x̂_{2j} + i x̂_{2j+1}; U_x has first row conj(ξ), so mode 1 collects β = Σ conj(ξ_j) α_j.
public enum ClientEncoding {
    /// ξ for an input vector (normalised here). An all-zero input gives ξ = 0.
    public static func symbols(_ z: [Float]) -> [Complex<Double>] {
        var norm2 = 0.0
        for v in z { norm2 += Double(v) * Double(v) }
        let inv = norm2 > 0 ? 1 / norm2.squareRoot() : 0
        let n = (z.count + 1) / 2
        return (0..<n).map { j in
            Complex(Double(z[2 * j]) * inv, 2 * j + 1 < z.count ? Double(z[2 * j + 1]) * inv : 0)
        }
    }

    /// β = Σ_j conj(ξ_j) α_j: what the client's interferometer puts into mode 1.
    public static func projection(symbols xi: [Complex<Double>], amplitudes alpha: [Complex<Double>]) -> Complex<Double> {
        // ξ and the row come from the same layer shape; a model of another input size is refused
        // at load (`ModelFile.checkInputs`), so this is a programming error only.
        precondition(xi.count == alpha.count, "ξ has \(xi.count) modes, the row \(alpha.count)")
        var re = 0.0, im = 0.0
        for j in xi.indices {
            // conj(ξ) α = (ξr − i ξi)(αr + i αi)
            re += xi[j].real * alpha[j].real + xi[j].imaginary * alpha[j].imaginary
            im += xi[j].real * alpha[j].imaginary - xi[j].imaginary * alpha[j].real
        }
        return Complex(re, im)
    }
}
