import BenchKit
import Foundation
import Testing
@testable import Calibrate

func temporaryDirectory() -> URL {
    let u = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-cal-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

let testDevice = InstrumentIdentity(manufacturer: "qbench", model: "sim-iq", serial: "S1", firmware: "1")

func sampleRecord(_ store: CalibrationStore, at date: Date, vpi: Double = 3.5, device: InstrumentIdentity = testDevice) -> CalibrationRecord {
    let id = store.newID(bench: "sim", role: "server.modulator", kind: .modulator, at: date)
    let stem = String(id.split(separator: "/").last!)
    return CalibrationRecord(schema: 1, id: id, bench: "sim", role: "server.modulator", kind: .modulator, createdAt: date,
                             validUntil: date.addingTimeInterval(86400), device: device, codeVersion: "test",
                             values: ["vpi.i": .init(vpi, uncertainty: 0.01, unit: "V")], method: "test", fit: ["chi2": 1],
                             rawData: stem + ".raw.json", plot: stem + ".svg", measurements: 10, benchSeconds: 1, inputs: [], checksum: nil)
}

@Suite("Calibration store")
struct StoreTests {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func addActivateSupersedeAndGoBack() throws {
        let store = CalibrationStore(root: temporaryDirectory())
        let a = try store.add(sampleRecord(store, at: t0), rawData: Data("{}".utf8), plot: "<svg/>")
        let b = try store.add(sampleRecord(store, at: t0.addingTimeInterval(60), vpi: 3.6), rawData: Data("{}".utf8), plot: nil)
        #expect(try store.activeID(bench: "sim", role: "server.modulator", kind: .modulator) == b.id)
        #expect(try store.list(bench: "sim").map(\.id) == [b.id, a.id])
        try store.activate(a.id)
        #expect(try store.active(bench: "sim", role: "server.modulator", kind: .modulator, now: t0).id == a.id)
        let index = try store.loadIndex("sim")
        #expect(index.history.map(\.id) == [a.id, b.id, a.id])
        #expect(index.history.last?.supersedes == b.id)
        #expect(FileManager.default.fileExists(atPath: store.url(of: a.id).deletingLastPathComponent().appendingPathComponent(a.plot!).path))
        #expect(a.id.hasPrefix("sim/server.modulator/") && a.id.hasSuffix("-modulator"))
    }

    @Test func recordsAreImmutable() throws {
        let store = CalibrationStore(root: temporaryDirectory())
        let r = try store.add(sampleRecord(store, at: t0), rawData: Data(), plot: nil)
        var again = r; again.checksum = nil
        #expect(throws: CalibrationError.self) { try store.add(again, rawData: Data(), plot: nil) }
        // A second record in the same second gets the next free id.
        let next = sampleRecord(store, at: t0)
        #expect(next.id != r.id)
    }

    @Test func handEditedOrDamagedRecordIsRefused() throws {
        let store = CalibrationStore(root: temporaryDirectory())
        let r = try store.add(sampleRecord(store, at: t0), rawData: Data(), plot: nil)
        let u = store.url(of: r.id)
        let original = try String(contentsOf: u, encoding: .utf8)
        try original.replacingOccurrences(of: "3.5", with: "3.6").write(to: u, atomically: true, encoding: .utf8)
        do { _ = try store.load(r.id); Issue.record("accepted an edited record") } catch {
            #expect("\(error)".contains("checksum does not match"))
        }
        try "{ not json".write(to: u, atomically: true, encoding: .utf8)
        #expect(throws: CalibrationError.self) { try store.load(r.id) }
        #expect(throws: CalibrationError.self) { try store.active(bench: "sim", role: "server.modulator", kind: .modulator, now: t0) }
    }

    @Test func expiredForeignAndMissingRecordsSayWhatToRun() throws {
        let store = CalibrationStore(root: temporaryDirectory())
        #expect(throws: CalibrationError.missing(bench: "sim", role: "server.modulator", kind: .modulator)) {
            try store.active(bench: "sim", role: "server.modulator", kind: .modulator)
        }
        let r = try store.add(sampleRecord(store, at: t0), rawData: Data(), plot: nil)
        do { _ = try store.active(bench: "sim", role: "server.modulator", kind: .modulator, now: t0.addingTimeInterval(2 * 86400)); Issue.record("expired accepted") } catch {
            #expect("\(error)".contains("qbench calibrate modulator"))
        }
        let other = InstrumentIdentity(manufacturer: "qbench", model: "sim-iq", serial: "S2", firmware: "1")
        do { _ = try store.active(bench: "sim", role: "server.modulator", kind: .modulator, device: other, now: t0); Issue.record("foreign accepted") } catch {
            #expect("\(error)".contains("S1") && "\(error)".contains("S2"))
        }
        #expect(try store.active(bench: "sim", role: "server.modulator", kind: .modulator, device: testDevice, now: t0) == r)
    }

    @Test func diffReportsShiftsInSigmas() throws {
        let store = CalibrationStore(root: temporaryDirectory())
        let a = sampleRecord(store, at: t0), b = sampleRecord(store, at: t0.addingTimeInterval(5), vpi: 3.53)
        let d = RecordDiff(a, b)
        #expect(d.changes.count == 1)
        #expect(abs((d.changes[0].sigmas ?? 0) - 0.03 / (0.0002).squareRoot()) < 1e-6)
        #expect(!d.deviceChanged)
    }

    @Test func kindsAreInDependencyOrder() {
        for k in CalibrationKind.allCases { for p in k.prerequisites { #expect(p < k) } }
    }
}
