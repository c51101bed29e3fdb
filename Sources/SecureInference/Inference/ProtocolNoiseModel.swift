import NumericsKit

/// The client's noise on every inner product (PROTOCOL.md §3): the reading of mode 1 is
/// 2√(rG) Re β + N(0, var), Re β = √μ (w·x̂)/rms_c, rescaled to an estimate of w·x̂ whose error has
/// standard deviation rms_w/√F (F = 2μ f(G) for the honest client). This applies it to the
/// pre-activations of a whole batch at once.
public struct ProtocolNoiseModel: Sendable {
    public let amplifier: ClientAmplifier
    public let photonsPerMode: Double
    public let measurement: ClientMeasurement

    public init(amplifier: ClientAmplifier, photonsPerMode mu: Double, behaviour: ClientBehaviour = .honest) throws(ProtocolDomainError) {
        try require(mu > 0 && mu.isFinite, "photons per mode μ", mu, "μ > 0")
        self.amplifier = amplifier
        photonsPerMode = mu
        measurement = try behaviour.measurement(nominal: amplifier)
    }

    /// Standard deviation of the client's estimate of w·x̂ for each layer of `network`.
    public func innerProductNoise(_ network: MNISTNetwork) throws(ProtocolDomainError) -> [Double] {
        var sigmas: [Double] = []
        for w in network.layers {
            sigmas.append(measurement.innerProductNoise(layer: try EncodedLayer(weights: w, photonsPerMode: photonsPerMode)))
        }
        return sigmas
    }

    /// Noisy logits of a batch: every inner product gets its own independent client noise.
    public func logits(_ network: MNISTNetwork, batch: Matrix, rng: inout Xoshiro256) throws(ProtocolDomainError) -> Matrix {
        let sigmas = try innerProductNoise(network)
        let sampler = Gaussian.Sampler()
        var local = rng
        let out = network.forward(batch) { layer, y in
            let sigma = Float(sigmas[layer])
            y.values.withUnsafeMutableBufferPointer { v in
                for i in v.indices { v[i] += sigma * Float(sampler.next(&local)) }
            }
        }
        rng = local
        return out
    }
}
