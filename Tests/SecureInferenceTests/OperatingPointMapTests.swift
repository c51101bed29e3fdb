import Foundation
import Testing
@testable import SecureInference

@Suite("Operating-point map")
struct OperatingPointMapTests {
    static func p(_ g: Double, _ mu: Double, _ acc: Double, _ iw: Double, _ ix: Double) -> OperatingPointMap.Point {
        .init(gain: g, photonsPerMode: mu, inferenceSNR: 0, accuracies: [acc - 0.001, acc + 0.001], weightLeakageBitsPerMode: iw, dataLeakageBits: ix)
    }

    /// A synthetic table: A low leakage, B better but leaks more data, C medium, D high, E ties C.
    static let table = OperatingPointMap(points: [
        p(1.3, 1.0, 0.950, 0.013, 0.0016),   // A
        p(5.0, 0.5, 0.962, 0.014, 0.0200),   // B: beyond the data budget
        p(2.0, 1.0, 0.970, 0.026, 0.0072),   // C
        p(2.0, 4.0, 0.978, 0.087, 0.0072),   // D
        p(1.5, 1.2, 0.970, 0.024, 0.0040),   // E: same accuracy as C, less leakage
    ])

    @Test(arguments: [
        (0.01, nil as Double?), (0.0129, nil), (0.0131, 0.013), (0.015, 0.013), (0.025, 0.024), (0.05, 0.024), (0.1, 0.087),
    ])
    func bestPointPerLevel(level: Double, expectedWeightLeakage: Double?) {
        let choice = Self.table.best(atWeightLeakageLevels: [level], dataLeakageBudget: 0.01)[0]
        #expect(choice.weightLeakageLevel == level)
        #expect(choice.best?.weightLeakageBitsPerMode == expectedWeightLeakage)
    }

    @Test func dataBudgetDecides() {
        let loose = Self.table.best(atWeightLeakageLevels: [0.015], dataLeakageBudget: 0.05)[0]
        #expect(loose.best?.gain == 5.0)
        let tight = Self.table.best(atWeightLeakageLevels: [0.015], dataLeakageBudget: 0.001)[0]
        #expect(tight.best == nil)
    }

    @Test func frontierIsMonotone() {
        let f = Self.table.frontier(dataLeakageBudget: 0.01)
        #expect(f.map(\.weightLeakageBitsPerMode) == [0.013, 0.024, 0.087])
        #expect(zip(f, f.dropFirst()).allSatisfy { $0.accuracy < $1.accuracy })
    }

    /// JSON carries the mean accuracy and its spread, and decodes back to the same point.
    @Test func jsonCarriesTheMeanAccuracy() throws {
        let point = Self.table.points[0]
        let data = try JSONEncoder().encode(point)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(abs((object["accuracy"] as? Double ?? 0) - 0.95) < 1e-12)
        #expect(abs((object["accuracySpread"] as? Double ?? 0) - 0.001) < 1e-12)
        #expect(try JSONDecoder().decode(OperatingPointMap.Point.self, from: data) == point)
    }

    /// The map's leakage figures are the project's bounds (LeakageSummary), not a second copy.
    @Test func pointLeakageComesFromTheBounds() throws {
        let point = try OperatingPointMap.Point(gain: 2, photonsPerMode: 4, accuracies: [0.97], modesPerRow: 392, innerProducts: 794)
        let summary = try LeakageSummary(gain: 2, photonsPerMode: 4, modesPerRow: 392, innerProducts: 794)
        #expect(point.weightLeakageBitsPerMode == summary.weightLeakageBitsPerMode)
        #expect(point.dataLeakageBits == summary.dataLeakageBits)
        #expect(abs(point.inferenceSNR - 4) < 1e-12)
        #expect(abs(point.spread) == 0)
    }
}
