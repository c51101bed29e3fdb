import Calibrate
import Foundation
import NumericsKit
import SecureInference
import Testing
@testable import Sequencer

/// The session's secret relabelling of the hidden units: an equivalent network, a different
/// labelling per session, the same one on resume.
struct HiddenUnitPermutationTests {
    @Test func permutedNetworkClassifiesAlike() throws {
        let f = TwinFixture.shared
        let network = f.model.network
        let permuted = HiddenUnitPermutation(network: network, basis: .fresh(.secret)).apply(to: network)
        #expect(permuted.layers[0] != network.layers[0])
        let images = f.testSet.subset(0..<200).images
        let a = network.logits(images), b = permuted.logits(images)
        #expect(MNISTNetwork.predictions(a) == MNISTNetwork.predictions(b))
        let scale = a.values.map(abs).max() ?? 1
        #expect(zip(a.values, b.values).allSatisfy { abs($0 - $1) <= 1e-4 * scale })
    }

    @Test func eachSessionDrawsItsOwnAndAResumeTheSame() throws {
        let network = TwinFixture.shared.model.network
        let basis = SecretBasis.fresh(.secret)
        let p1 = HiddenUnitPermutation(network: network, basis: basis)
        let p2 = HiddenUnitPermutation(network: network, basis: .fresh(.secret))
        #expect(p1.orders.count == 1 && p1.orders[0].sorted() == Array(0..<network.layers[0].rows))
        #expect(p1 != p2)
        #expect(p1.orders[0] != Array(0..<network.layers[0].rows))
        // Units move in adjacent pairs: every optical mode of the next layer keeps its two inputs.
        #expect(stride(from: 0, to: p1.orders[0].count - 1, by: 2).allSatisfy { p1.orders[0][$0] % 2 == 0 && p1.orders[0][$0 + 1] == p1.orders[0][$0] + 1 })
        let key = StationKeyFixture.key
        let reopened = try SecretBasis.open(try basis.sealed(with: key, runId: "r"), with: key, runId: "r")
        #expect(HiddenUnitPermutation(network: network, basis: reopened) == p1)
    }
}

enum StationKeyFixture {
    static let key = Calibrate.StationKey.generate()
}
