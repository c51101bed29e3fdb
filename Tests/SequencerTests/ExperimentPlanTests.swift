import BenchKit
import Calibrate
import Foundation
import Testing
@testable import Sequencer

/// A plan of the given body under a fixed file name (errors name it).
private func plan(_ body: String) throws(BenchFileError) -> ExperimentPlan {
    try ExperimentPlan.parse(body, file: "/plans/test.yaml")
}

@Suite("Experiment plans")
struct ExperimentPlanTests {
    @Test func aFullPlanIsRead() throws {
        let p = try plan("""
            experiment: map-1
            description: a test
            bench: ../Devices/benches/sim.yaml
            model: /models/m.qbm
            defaults:
              images: 20
              block-images: 10
              budget: 0.5
              privacy-budget: 0.02
            sweep:
              photons: [1, 4]
              gain: [1.5, 2, 3]
            points:
              - {photons: 8, gain: 2, client: greedy-tap:0.55, seed: 7}
            calibration:
              store: experiment
              initial: always
              operating-point: refuse
              before-each-point: [link]
              reference-shots: 64
              drift-check:
                kinds: [back-to-back, modulator]
                tolerance: 4
                on-failure: all
                minimum-change: {V: 0.005, rad: 1e-3}
            report:
              title: T
              plots: [abort-images]
            """)
        #expect(p.name == "map-1" && p.summary == "a test")
        #expect(p.benchFile == "/Devices/benches/sim.yaml" && p.modelFile == "/models/m.qbm" && p.dataDirectory == nil)
        #expect(p.points.count == 7)
        #expect(p.points.allSatisfy { $0.images == 20 && $0.blockImages == 10 && $0.budget == 0.5 && $0.privacyBudget == 0.02 })
        #expect(p.points.last == ExperimentPoint(photons: 8, gain: 2, budget: 0.5, images: 20, blockImages: 10, client: "greedy-tap:0.55", seed: 7, privacyBudget: 0.02))
        #expect(p.calibration.store == .experiment && p.calibration.initial == .always && p.calibration.operatingPoint == .refuse)
        #expect(p.calibration.beforeEachPoint == [.link] && p.calibration.referenceShots == 64)
        // Kinds in the routines' dependency order, whatever the file's order.
        #expect(p.calibration.driftCheck == .init(kinds: [.modulator, .backToBack], toleranceSigmas: 4, onFailure: CalibrationKind.allCases,
                                                  minimumChange: ["V": 0.005, "rad": 1e-3]))
        #expect(p.report.title == "T" && p.report.plots == [.abortImages])
    }

    /// The cartesian product in the file's axis order, the last axis fastest, then the explicit points.
    @Test func theSweepExpandsInOrder() throws {
        let p = try plan("""
            experiment: s
            sweep:
              gain: [2, 3]
              photons: [1, 2, 4]
              client: honest
            points:
              - {photons: 9}
            """)
        let pairs = p.points.map { [$0.gain, $0.photons] }
        #expect(pairs == [[2, 1], [2, 2], [2, 4], [3, 1], [3, 2], [3, 4], [2, 9]])
        #expect(p.points.allSatisfy { $0.client == "honest" && $0.seed == nil && $0.images == 10_000 })
    }

    @Test func theShippedExamplesParse() throws {
        let folder = repositoryRoot.appendingPathComponent("Experiments")
        let counts = ["paper-map.yaml": 12, "paper-map-full.yaml": 30, "attacks.yaml": 12, "drift-recheck.yaml": 3,
                      "low-leakage.yaml": 3, "low-leakage-certified.yaml": 6, "accurate-at-0.05.yaml": 3, "accurate-at-0.05-g2.yaml": 3,
                      "sweep-3x3.yaml": 9]
        // Every plan in the folder is listed here (a new one is parsed, or this test fails).
        let shipped = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(Set(shipped) == Set(counts.keys))
        for (name, count) in counts {
            let p = try ExperimentPlan.load(folder.appendingPathComponent(name))
            #expect(p.points.count == count, "\(name)")
            #expect(FileManager.default.fileExists(atPath: try #require(p.benchFile)), "\(name): its bench file")
        }
    }

    /// Each bad plan is refused with the line of the culprit and what was expected.
    @Test(arguments: [
        ("experiment: x\nsweep:\n  photons: [1]\ncolour: red\n", 4, "unknown key 'colour'"),
        ("sweep:\n  photons: [1]\n", 1, "missing 'experiment'"),
        ("experiment: a/b\nsweep:\n  photons: [1]\n", 1, "must be letters"),
        ("experiment: x\n", 1, "no operating points"),
        ("experiment: x\nsweep:\n  photon: [1, 2]\n", 3, "unknown sweep axis 'photon'"),
        ("experiment: x\nsweep:\n  photons: [1, two]\n", 3, "'two' is not a finite number"),
        ("experiment: x\nsweep:\n  gain: [2, 1]\n", 3, "the client's amplifier needs 1 < G"),
        ("experiment: x\nsweep:\n  images:\n    - 10\n    - 0\n", 5, "give 1 … 10000"),
        ("experiment: x\nsweep:\n  images: [1.5]\n", 3, "not an integer"),
        ("experiment: x\nsweep:\n  client: [honest, sneaky]\n", 3, "give honest, greedy-tap:R"),
        ("experiment: x\nsweep:\n  seed: [-1]\n", 3, "seed '-1' is not a whole number"),
        ("experiment: x\nsweep:\n  photons: []\n", 3, "has no values"),
        ("experiment: x\npoints:\n  - photons: 1\n  - 4\n", 4, "expected a mapping"),
        ("experiment: x\npoints:\n  - {photons: 1, gain: 2, budget: 20}\n", 3, "a leakage budget of 20"),
        ("experiment: x\npoints:\n  - {privacy-budget: 0}\n", 3, "positive data-leakage budget"),
        ("experiment: x\ndefaults:\n  speed: 3\npoints:\n  - {photons: 1}\n", 3, "unknown key 'speed'"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  store: attic\n", 5, "store 'attic'; expected one of: experiment, station"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  before-each-point: [laser, lnk]\n", 5, "unknown calibration 'lnk'"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  reference-shots: 2\n", 5, "reference-shots 2"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  drift-check:\n    kinds: [link]\n    tolerance: -1\n", 7, "positive number of standard uncertainties"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  drift-check:\n    tolerance: 3\n", 6, "missing 'kinds'"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  drift-check:\n    kinds: [link]\n    when: later\n", 7, "unknown key 'when'"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  drift-check:\n    kinds: [link]\n    minimum-change:\n      V: 0\n", 8, "minimum-change for 'V' is 0.0"),
        ("experiment: x\npoints:\n  - {photons: 1}\ncalibration:\n  drift-check:\n    kinds: [link]\n    minimum-change: 5 mV\n", 7, "expected a mapping"),
        ("experiment: x\npoints:\n  - {photons: 1, seed: 3}\ncalibration:\n  store: station\n", 5, "reseeds the twin"),
        ("experiment: x\npoints:\n  - {photons: 1}\nreport:\n  plots: [pie]\n", 5, "unknown plot 'pie'"),
        ("experiment: x\npoints:\n  - {photons: 1}\nbench: ''\n", 4, "bench is empty"),
        ("experiment: x\nexperiment: y\npoints:\n  - {photons: 1}\n", 2, "repeats the key 'experiment'"),
        ("experiment: x\npoints: &a\n  - {photons: 1}\n", 2, "anchor"),
    ])
    func badPlansAreRefusedWithTheirLine(text: String, line: Int, message: String) {
        do {
            _ = try plan(text)
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.file == "/plans/test.yaml")
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }

    @Test func tooLargeASweepIsRefused() {
        let values = "[" + (1...100).map { "\(Double($0) / 10)" }.joined(separator: ", ") + "]"
        #expect(throws: BenchFileError.self) {
            try plan("experiment: x\nsweep:\n  photons: \(values)\n  budget: \(values)\n  images: [1, 2]\n")
        }
    }

    @Test func theTwinIsReseededOnItsSeedLine() throws {
        let text = try String(contentsOf: simBench, encoding: .utf8)
        let reseeded = try ExperimentRunner.reseeded(text, seed: 42, file: simBench.path)
        let description = try BenchDescription.parse(reseeded, file: simBench.path)
        #expect(try description.simulation?.required("seed", "").string == "42")
        #expect(reseeded.components(separatedBy: "\n").count == text.components(separatedBy: "\n").count)
        #expect(text.replacingOccurrences(of: "seed: 20250801", with: "seed: 42") == reseeded)
        #expect(throws: ExperimentError.self) {
            try ExperimentRunner.reseeded("bench: b\nroles: {}\n", seed: 1, file: "b.yaml")
        }
    }
}

@Suite("Experiment table")
struct ExperimentTableTests {
    static func row(_ point: Int, reason: String? = nil, seed: UInt64? = nil) -> ExperimentRow {
        ExperimentRow(point: point, parameters: ExperimentPoint(photons: 4, gain: 2, images: 20, blockImages: 10, client: "greedy-tap:0.55", seed: seed),
                      runId: "run-\(point)", outcome: reason == nil ? .completed : .aborted, reason: reason, accuracy: 0.95, certified: reason == nil,
                      certifiedImages: reason == nil ? 10 : nil, aborted: reason != nil, abortBlock: reason == nil ? nil : 1,
                      abortImages: reason == nil ? nil : 20, imagesServed: 20, modes: 6_224_960, transmittance: 0.999, excessNoise: 0.0025,
                      excessNoiseUpperBound: 0.004, weightLeakage: 0.08, weightLeakageUpperBound: 0.15, dataLeakage: 0.0072,
                      seconds: 1.5, pointSeconds: 2.25, calibrationIds: [])
    }

    @Test func oneRowPerPointWithEveryColumn() {
        let csv = ExperimentTable.csv([Self.row(1, reason: "I_w exceeds the budget, \"clearly\""), Self.row(0, seed: 7)])
        let lines = csv.split(separator: "\n").map(String.init)
        #expect(lines.count == 3)
        #expect(lines[0] == ExperimentTable.columns.joined(separator: ","))
        #expect(ExperimentTable.columns.count == 29)
        #expect(lines[1].hasPrefix("0,4,2,0.1,1e-06,20,10,greedy-tap:0.55,7,0.01,run-0,completed,0.95,true,10,false,,,20,6224960,0.999,"))
        #expect(lines[1].hasSuffix(",1.50,2.25,"))
        // The reason's comma and quotes are quoted, so the row still has every column.
        #expect(lines[2].hasSuffix("\"I_w exceeds the budget, \"\"clearly\"\"\""))
        #expect(lines[2].contains(",run-1,aborted,0.95,false,,true,1,20,20,"))
    }

    @Test func abortCurvesCountSessionsAbortedByEachBlock() throws {
        let p = try ExperimentPlan.parse("experiment: x\npoints:\n  - {images: 20, block-images: 10}\n", file: "x.yaml")
        let rows = [Self.row(0), Self.row(1, reason: "abort"), Self.row(2, reason: "abort")]
        var early = rows[1]
        early.abortImages = 10
        let curves = ExperimentReport(id: "x", plan: p, rows: [rows[0], early, rows[2]], journal: []).abortCurves
        #expect(curves.count == 1 && curves[0].sessions == 3)
        #expect(curves[0].curve.map(\.images) == [10, 20])
        let third: Double = 1.0 / 3
        let aborted: [Double] = curves[0].curve.map(\.aborted)
        let certified: [Double] = curves[0].curve.map(\.certified)
        #expect(aborted == [third, 2 * third])
        #expect(certified == [third, third])
    }

    /// A drift fails the check when it is beyond the tolerance in σ and not below the plan's
    /// minimum change for its unit (the twin's bias walked 1.2 mV, 82 σ, between two sessions).
    @Test(arguments: [
        (82.5, 0.0012, "V", [String: Double](), true),
        (82.5, 0.0012, "V", ["V": 0.005], false),
        (82.5, 0.006, "V", ["V": 0.005], true),
        (4.0, 0.006, "V", ["V": 0.005], false),
        (82.5, 0.0012, "rad", ["V": 0.005], true),
        (5.0, 1.0, "V", [String: Double](), false),
    ])
    func driftFailsBeyondBothTolerances(sigmas: Double, change: Double, unit: String, minimum: [String: Double], fails: Bool) {
        let check = CalibrationPolicy.DriftCheck(kinds: [.modulator], toleranceSigmas: 5, onFailure: [], minimumChange: minimum)
        #expect(ExperimentCalibrator.fails(sigmas: sigmas, change: change, unit: unit, check: check) == fails)
    }
}
