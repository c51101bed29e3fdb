import BenchKit
import Foundation
import SecureInference

/// The client's side of the protocol on the bench: ξ from its data, and its readings turned back
/// into inner products with the calibrated reading gain (PROTOCOL.md §3.2–3.3).
struct ClientDecoder: Sendable {
    let readingGain: Double
    let readingOffset: Double

    /// ξ of one image's layer input (normalised and packed two per mode).
    static func symbols(_ input: ArraySlice<Float>) -> [ComplexSymbol] {
        ClientEncoding.symbols(Array(input)).map { ComplexSymbol(Float($0.real), Float($0.imaginary)) }
    }

    /// Re β of every row in √photons: (reading − offset)/gain. That is w·x̂ times the layer's
    /// amplitude scale √μ/rms_c(W), a positive constant derived from the weights that the client
    /// neither knows nor needs: the next layer renormalises its input, ReLU commutes with a
    /// positive scale, and the arg-max of the last layer ignores it (PROTOCOL.md §3.3, §4).
    func innerProducts(_ readings: ArraySlice<Float>) -> [Float] {
        let scale = 1 / readingGain
        return readings.map { Float((Double($0) - readingOffset) * scale) }
    }
}
