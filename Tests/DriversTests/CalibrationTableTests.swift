import BenchKit
@testable import Drivers
import Testing

/// The monotone tables of the client's amplifier (gain vs current) and splitter (kept fraction vs
/// voltage): read both ways, refused outside, malformed tables refused with the reason.
@Suite("Calibration tables")
struct CalibrationTableTests {
    static let rising = try! CalibrationTable([.init(x: 0.06, y: 1), .init(x: 0.10, y: 2), .init(x: 0.20, y: 6)], source: "t.yaml:3")
    static let falling = try! CalibrationTable([.init(x: 0, y: 0.9), .init(x: 2, y: 0.6), .init(x: 5, y: 0.1)], source: "t.yaml:4")

    @Test("y(x) and x(y) interpolate between points, agree with each other, and refuse what lies outside", arguments: [
        (0.06, 1.0), (0.08, 1.5), (0.10, 2.0), (0.15, 4.0), (0.20, 6.0),
    ])
    func risingTable(_ x: Double, _ y: Double) throws {
        #expect(abs(try #require(Self.rising.y(at: x)) - y) < 1e-12)
        #expect(abs(try #require(Self.rising.x(for: y)) - x) < 1e-12)
    }

    @Test("a falling table inverts too, in the right interval", arguments: [(0.0, 0.9), (1.0, 0.75), (2.0, 0.6), (2.6, 0.5), (3.8, 0.3), (5.0, 0.1)])
    func fallingTable(_ x: Double, _ y: Double) throws {
        #expect(abs(try #require(Self.falling.x(for: y)) - x) < 1e-12)
        #expect(abs(try #require(Self.falling.y(at: x)) - y) < 1e-12)
        #expect(Self.falling.yRange == 0.1...0.9)
    }

    @Test("outside the table, or not finite: nil", arguments: [(0.0599, 0.99), (0.2001, 6.01), (Double.nan, Double.nan), (-Double.infinity, Double.infinity)])
    func outside(_ x: Double, _ y: Double) {
        #expect(Self.rising.y(at: x) == nil)
        #expect(Self.rising.x(for: y) == nil)
    }

    @Test("malformed tables are refused with the reason", arguments: [
        ([(0.1, 1.0)], CalibrationTable.Problem.tooShort(1)),
        ([(0.1, 1.0), (0.1, 2.0)], .xNotIncreasing(index: 1)),
        ([(0.1, 1.0), (0.2, 2.0), (0.15, 3.0)], .xNotIncreasing(index: 2)),
        ([(0.1, 1.0), (0.2, 2.0), (0.3, 2.0)], .yNotMonotone(index: 2)),
        ([(0.1, 3.0), (0.2, 2.0), (0.3, 2.5)], .yNotMonotone(index: 2)),
        ([(0.1, 1.0), (Double.nan, 2.0)], .notFinite(index: 1)),
    ] as [([(Double, Double)], CalibrationTable.Problem)])
    func malformed(_ points: [(Double, Double)], _ problem: CalibrationTable.Problem) {
        #expect(throws: problem) { try CalibrationTable(points.map { .init(x: $0.0, y: $0.1) }, source: "t.yaml:1") }
    }
}
