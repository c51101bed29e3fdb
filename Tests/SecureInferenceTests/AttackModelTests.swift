import Foundation
import Numerics
import NumericsKit
import Testing
@testable import SecureInference

@Suite("Attack models (PROTOCOL.md §7)")
struct AttackModelTests {
    /// A layer row and a client input with the statistics of the real first layer.
    func workload(seed: UInt64, rows: Int = 20) throws -> (layer: EncodedLayer, xi: [Complex<Double>]) {
        var rng = Xoshiro256(seed: seed)
        let w = Matrix(rows: rows, cols: 784, values: (0..<(rows * 784)).map { _ in Float(rng.nextUnit() - 0.5) })
        let z = (0..<784).map { _ in Float(rng.nextUnit() * 2 - 1) }
        return (try EncodedLayer(weights: w, photonsPerMode: 4), ClientEncoding.symbols(z))
    }

    func expected(_ behaviour: ClientBehaviour, gain: Double = 2) throws -> ExpectedChannel {
        let (layer, xi) = try workload(seed: 21)
        let amp = try ClientAmplifier(gain: gain)
        let m = try behaviour.measurement(nominal: amp)
        var ch = ExpectedChannel()
        for r in 0..<layer.weights.rows {
            let alpha = layer.amplitudes(row: r)
            ch.add(sent: alpha, returned: ReturnedLight.modes(amplitudes: alpha, symbols: xi, measurement: m, preparationNoise: behaviour.preparationNoise))
        }
        return ch
    }

    @Test func honestClientReturnsMeansUnchangedAndNoiseGOverN() throws {
        let ch = try expected(.honest)
        #expect(abs(ch.transmittance - 1) < 1e-12)
        #expect(abs(ch.excessNoise - 1.0 / 392) < 1e-12)
    }

    @Test func honestNoisePatternFollowsTheData() throws {
        let (layer, xi) = try workload(seed: 5, rows: 1)
        let m = ClientMeasurement(amplifier: try ClientAmplifier(gain: 2))
        let modes = ReturnedLight.modes(amplitudes: layer.amplitudes(row: 0), symbols: xi, measurement: m)
        for j in modes.indices { #expect(abs(modes[j].excessNoise - 1.0 * xi[j].lengthSquared) < 1e-15) }
        #expect(abs(modes.reduce(0) { $0 + $1.excessNoise } - 1) < 1e-12)
    }

    @Test func greedyTapShrinksTheReturnedMean() throws {
        let ch = try expected(.greedyTap(keptFraction: 1))
        #expect(ch.transmittance < 1)
        // Only the component along ξ is removed: 1 − T̂ ≈ 2|β|²/‖α‖² on average, order 1/n.
        #expect(1 - ch.transmittance > 1e-4 && 1 - ch.transmittance < 0.05)
        let partial = try expected(.greedyTap(keptFraction: 0.75))
        #expect(partial.transmittance > ch.transmittance && partial.transmittance < 1)
        #expect(throws: ProtocolDomainError.self) { try ClientBehaviour.greedyTap(keptFraction: 0.3).measurement(nominal: ClientAmplifier(gain: 2)) }
    }

    @Test(arguments: [2.5, 4.0, 10.0])
    func overAmplificationIsUnbiasedButNoisier(g2: Double) throws {
        let ch = try expected(.overAmplify(gain: g2))
        #expect(abs(ch.transmittance - 1) < 1e-12)
        #expect(abs(ch.excessNoise - (2 - 2 / g2) / 392) < 1e-12)
        let leak = try WeightLeakage.bitsPerMode(photonsPerMode: 4, transmittance: 1, excessNoise: ch.excessNoise)
        #expect(leak > 0.0874)
    }

    @Test func interceptResendAddsTwoUnitsPerMode() throws {
        let ch = try expected(.interceptResend)
        #expect(abs(ch.transmittance - 1) < 1e-12)
        #expect(abs(ch.excessNoise - (2 + 1.0 / 392)) < 1e-12)
    }

    @Test(arguments: ["honest", "greedy-tap:0.9", "over-amplify:4", "intercept-resend"])
    func behaviourArgumentsRoundTrip(arg: String) throws {
        let b = try #require(ClientBehaviour(argument: arg))
        #expect(ClientBehaviour(argument: b.description) == b)
    }

    @Test(arguments: ["", "greedy", "greedy-tap:", "over-amplify:x", "honest:1"])
    func badBehaviourArguments(arg: String) {
        #expect(ClientBehaviour(argument: arg) == nil)
    }
}
