import BenchKit
@testable import BenchSim
import Foundation
import SecureInference
import Testing

/// The benchmark's workload end to end on the shipped bench: secure inference of a few MNIST test
/// images through every device of the twin.
@Suite("Twin workload")
struct TwinWorkloadTests {
    @Test func classifiesImagesThroughTheTwin() async throws {
        let model = try ModelFile.read(from: TestBench.root.appendingPathComponent("Models/mnist-784-784-10.qbm"))
        let set = try MNISTSet.load(.test, directory: TestBench.root.appendingPathComponent("Data/mnist"), limit: 12)
        let bench = try await SimulatedBench.open(TestBench.root.appendingPathComponent("Devices/benches/sim.yaml"))
        var configuration = TwinWorkload.Configuration()
        configuration.batch = 5
        let workload = try await TwinWorkload(bench: bench, network: model.network, configuration: configuration)
        let result = try await workload.run(set)
        #expect(result.images == 12)
        #expect(result.modes == 12 * model.network.modesPerImage)
        #expect(result.readings == 12 * model.network.innerProductsPerImage)
        #expect(result.clippedReadings == 0)
        // The shipped model reaches ~98 % under the protocol's noise; 12 images leave room for one miss.
        #expect(result.correct >= 10, "\(result.correct) of 12 correct through the twin")
        let engine = try await SimulatedBench.engine(of: bench)
        #expect(engine.shotsFired == 24)
        await bench.enterSafeState()
    }
}
