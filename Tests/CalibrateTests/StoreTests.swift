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
    return CalibrationRecord(schema: CalibrationRecord.schemaVersion, id: id, bench: "sim", role: "server.modulator", kind: .modulator, createdAt: date,
                             validUntil: date.addingTimeInterval(86400), device: device, codeVersion: "test",
                             values: ["vpi.i": .init(vpi, uncertainty: 0.01, unit: "V")], method: "test", fit: ["chi2": 1],
                             rawData: stem + ".raw.json", plot: stem + ".svg", measurements: 10, benchSeconds: 1, inputs: [], seal: nil)
}

func backToBackRecord(_ store: CalibrationStore, at date: Date) -> CalibrationRecord {
    let id = store.newID(bench: "sim", role: "server.receiver", kind: .backToBack, at: date)
    let stem = String(id.split(separator: "/").last!)
    return CalibrationRecord(schema: CalibrationRecord.schemaVersion, id: id, bench: "sim", role: "server.receiver", kind: .backToBack,
                             createdAt: date, validUntil: date.addingTimeInterval(86400), device: testDevice, codeVersion: "test",
                             values: ["efficiency": .init(0.834, uncertainty: 0.005, unit: "1"), "response": .init(0.913, uncertainty: 0.001, unit: "SNU/SNU"),
                                      "shot-noise": .init(1.36e-3, uncertainty: 1e-6, unit: "V²"), "photons": .init(4, uncertainty: 0, unit: "photons/mode")],
                             method: "test", fit: [:], rawData: stem + ".raw.json", plot: nil, measurements: 1, benchSeconds: 1, inputs: [], seal: nil)
}

@Suite("Calibration store")
struct StoreTests {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func addActivateSupersedeAndGoBack() throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
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
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        let r = try store.add(sampleRecord(store, at: t0), rawData: Data(), plot: nil)
        var again = r; again.seal = nil
        #expect(throws: CalibrationError.self) { try store.add(again, rawData: Data(), plot: nil) }
        // A second record in the same second gets the next free id.
        let next = sampleRecord(store, at: t0)
        #expect(next.id != r.id)
    }

    @Test func handEditedOrDamagedRecordIsRefused() throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        let r = try store.add(sampleRecord(store, at: t0), rawData: Data(), plot: nil)
        let u = store.url(of: r.id)
        let original = try String(contentsOf: u, encoding: .utf8)
        try original.replacingOccurrences(of: "3.5", with: "3.6").write(to: u, atomically: true, encoding: .utf8)
        do { _ = try store.load(r.id); Issue.record("accepted an edited record") } catch {
            #expect("\(error)".contains("seal does not match"))
        }
        try "{ not json".write(to: u, atomically: true, encoding: .utf8)
        #expect(throws: CalibrationError.self) { try store.load(r.id) }
        #expect(throws: CalibrationError.self) { try store.active(bench: "sim", role: "server.modulator", kind: .modulator, now: t0) }
    }

    @Test func expiredForeignAndMissingRecordsSayWhatToRun() throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
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
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        let a = sampleRecord(store, at: t0), b = sampleRecord(store, at: t0.addingTimeInterval(5), vpi: 3.53)
        let d = RecordDiff(a, b)
        #expect(d.changes.count == 1)
        #expect(abs((d.changes[0].sigmas ?? 0) - 0.03 / (0.0002).squareRoot()) < 1e-6)
        #expect(!d.deviceChanged)
    }

    /// Defect (issue 10.3): the unkeyed FNV checksum let anyone re-seal an edited record; a
    /// back-to-back record with η = 83.4 was accepted and over-amplify:4 certified. Now: a record
    /// sealed by another key, an unsealed one, or one carrying the old checksum is refused, and a
    /// value outside its physical range is refused even when the station itself sealed it.
    @Test func forgedOrForeignSealIsRefused() throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        let r = try store.add(backToBackRecord(store, at: t0), rawData: Data(), plot: nil)
        let u = store.url(of: r.id)
        // The forger edits η and recomputes a seal with a key of their own.
        var forged = r
        forged.values["efficiency"] = .init(0.95, uncertainty: 0.001, unit: "1")
        let forger = CalibrationStore(root: temporaryDirectory(), key: .generate())
        try CalibrationRecord.canonicalJSON(try forged.sealed(with: forger.key)).write(to: u)
        do { _ = try store.load(r.id); Issue.record("accepted a record sealed by another key") } catch {
            #expect("\(error)".contains("sealed by station key"))
        }
        // The old unkeyed checksum, recomputed by the forger, is no seal at all.
        var unsealed = forged
        unsealed.seal = nil
        var json = String(decoding: try CalibrationRecord.canonicalJSON(unsealed), as: UTF8.self)
        json = json.replacingOccurrences(of: "\n}", with: ",\n  \"checksum\" : \"0123456789abcdef\"\n}")
        try json.write(to: u, atomically: true, encoding: .utf8)
        do { _ = try store.load(r.id); Issue.record("accepted an unsealed record") } catch {
            #expect("\(error)".contains("no seal"))
        }
    }

    @Test(arguments: [
        ("efficiency", 83.4, "1"), ("efficiency", 0, "1"), ("efficiency", -0.5, "1"), ("efficiency", .nan, "1"),
        ("efficiency", .infinity, "1"), ("response", 0, "SNU/SNU"), ("shot-noise", -1e-3, "V²"), ("efficiency", 0.8, "dB"),
    ])
    func outOfRangeValuesAreRefusedEvenWhenSealed(name: String, value: Double, unit: String) throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        var bad = backToBackRecord(store, at: t0)
        bad.values[name] = .init(value, uncertainty: 0.001, unit: unit)
        #expect(throws: CalibrationError.self) { try store.add(bad, rawData: Data(), plot: nil) }
        // Sealed by the station itself and written by hand: still refused on load.
        let u = store.url(of: bad.id)
        try FileManager.default.createDirectory(at: u.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        if let data = try? encoder.encode(try bad.sealed(with: store.key)) {
            try data.write(to: u)
            do { _ = try store.load(bad.id); Issue.record("loaded \(name) = \(value) \(unit)") } catch {
                #expect("\(error)".contains(name) || "\(error)".contains("not a calibration record"))
            }
        }
    }

    @Test func indexPointingAtAnotherKindIsRefused() throws {
        let store = CalibrationStore(root: temporaryDirectory(), key: .generate())
        let r = try store.add(backToBackRecord(store, at: t0), rawData: Data(), plot: nil)
        var index = try store.loadIndex("sim")
        index.active["server.receiver/homodyne"] = r.id
        try CalibrationStore.encoder.encode(index).write(to: store.indexURL("sim"))
        do { _ = try store.active(bench: "sim", role: "server.receiver", kind: .homodyne, now: t0); Issue.record("wrong kind accepted") } catch {
            #expect("\(error)".contains("back-to-back record"))
        }
    }

    @Test func stationKeyFileIsPrivateAndStable() throws {
        let dir = temporaryDirectory()
        let url = StationKey.defaultURL(home: dir)
        let a = try StationKey.loadOrCreate(at: url), b = try StationKey.loadOrCreate(at: url)
        #expect(a.id == b.id)
        let mode = try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: url.path)
        #expect(throws: StationKeyError.self) { try StationKey.load(at: url) }
        #expect(StationKey.generate().id != a.id)
        let box = try a.seal(Data("basis".utf8), purpose: "test")
        #expect(try a.unseal(box, purpose: "test") == Data("basis".utf8))
        #expect(throws: StationKeyError.self) { try StationKey.generate().unseal(box, purpose: "test") }
    }

    @Test func kindsAreInDependencyOrder() {
        for k in CalibrationKind.allCases { for p in k.prerequisites { #expect(p < k) } }
    }
}
