import Foundation
import GRDB
import NumericsKit
import Testing
@testable import Sequencer

/// Issue 11: the run database never loses runs, never crashes on a damaged row, and says what
/// to do when it cannot be used.
@Suite("Run database: damage, locks, read-only")
struct RunDatabaseDamageTests {
    let config = RunConfiguration(benchFile: "Devices/benches/sim.yaml", modelFile: "Models/m.qbm", dataDirectory: "Data/mnist", images: 20, blockImages: 10)

    func populated() throws -> (RunDatabase, String) {
        let db = try RunDatabase(directory: scratchDirectory())
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: config, bench: "sim", benchSnapshot: nil, calibrationIds: ["a"], modelId: "m", codeVersion: "v", arguments: ["qbench"])
        try db.journal(id, kind: .step, step: "block 0", checkpoint: Data("{\"nextBlock\":1}".utf8))
        return (db, id)
    }

    func sha(_ url: URL) throws -> Data { try Data(contentsOf: url) }

    /// Used to be re-initialised silently (an empty file is a valid empty SQLite database).
    @Test(arguments: [Data(), Data("hello, I am not a database\n".utf8), Data(repeating: 0xAB, count: 8192)])
    func emptyOrForeignFileIsRefusedAndLeftUntouched(_ content: Data) throws {
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("runs.sqlite")
        try content.write(to: url)
        do { _ = try RunDatabase(directory: dir); Issue.record("opened a foreign file") } catch let e as RunDatabaseError {
            guard case .notARunDatabase = e else { Issue.record("\(e)"); return }
            #expect(e.description.contains("mv "))
        }
        #expect(try Data(contentsOf: url) == content)
        #expect(!FileManager.default.fileExists(atPath: url.path + "-wal"))
    }

    @Test func otherSQLiteDatabaseIsRefused() throws {
        let dir = scratchDirectory()
        let url = dir.appendingPathComponent("runs.sqlite")
        do {
            let q = try DatabaseQueue(path: url.path)
            try q.write { try $0.execute(sql: "CREATE TABLE photos (id INTEGER)") }
        }
        let before = try Data(contentsOf: url)
        #expect(throws: RunDatabaseError.self) { try RunDatabase(directory: dir) }
        #expect(try Data(contentsOf: url) == before)
    }

    /// Damaged pages (here: the second page overwritten) are detected by `PRAGMA quick_check`
    /// or SQLite itself, and the file is not written.
    @Test func damagedPagesAreDetected() throws {
        let (db, _) = try populated()
        let url = db.url
        try db.queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        var bytes = try Data(contentsOf: url)
        let pageSize = 4096
        #expect(bytes.count >= 3 * pageSize)
        for i in pageSize..<(2 * pageSize) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try bytes.write(to: url)
        let fresh = url.deletingLastPathComponent()
        do { _ = try RunDatabase(directory: fresh); Issue.record("opened damaged pages") } catch let e as RunDatabaseError {
            switch e { case .damaged, .notARunDatabase: break; default: Issue.record("\(e)") }
            #expect(e.description.contains(url.path))
        }
        #expect(try Data(contentsOf: url) == bytes)
    }

    /// Used to trap in GRDB's row subscript (a value of the wrong type in a column).
    @Test(arguments: ["createdAt = x'00ff'", "status = 7", "seed = 'x'", "configuration = x'7b'", "calibrationIds = '[1'", "bench = NULL"])
    func damagedRowIsReportedNotTrapped(_ damage: String) throws {
        let (db, id) = try populated()
        // NOT NULL columns refuse NULL; rebuild the table without constraints for that case.
        if damage.hasSuffix("NULL") {
            try db.queue.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA foreign_keys = OFF")
                try db.execute(sql: "CREATE TABLE run2 AS SELECT * FROM run")
                try db.execute(sql: "DROP TABLE run")
                try db.execute(sql: "ALTER TABLE run2 RENAME TO run")
            }
        }
        try db.queue.write { try $0.execute(sql: "UPDATE run SET \(damage) WHERE id = ?", arguments: [id]) }
        #expect(throws: RunDatabaseError.self) { try db.run(id) }
        #expect(throws: RunDatabaseError.self) { try db.runs() }
        let listing = try db.listRuns()
        guard case let .damaged(damagedId, problem)? = listing.first else { Issue.record("listed as readable"); return }
        #expect(damagedId == id)
        #expect(problem.contains(id) || problem.contains("record"))
    }

    /// A configuration read back from the database is validated: `images = 1e9` or
    /// `blockImages = 0` would run nonsense or trap.
    @Test(arguments: [("images", "1000000000", "--images"), ("blockImages", "0", "--block-images"), ("gain", "-1", "--gain"),
                      ("delta", "0", "--delta"), ("delta", "1e-30", "--delta"), ("vacuumSlotsPerRow", "-5", "--vacuum-slots"),
                      ("photonsPerMode", "\"inf\"", "--photons")])
    func damagedConfigurationIsRefusedWithTheOption(_ key: String, _ value: String, _ option: String) throws {
        let (db, id) = try populated()
        var json = try JSONSerialization.jsonObject(with: try RunDatabase.json(config)) as! [String: Any]
        json[key] = try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
        let data = try JSONSerialization.data(withJSONObject: json, options: [.fragmentsAllowed])
        try db.queue.write { try $0.execute(sql: "UPDATE run SET configuration = ? WHERE id = ?", arguments: [data, id]) }
        do { _ = try db.run(id); Issue.record("accepted \(key) = \(value)") } catch let e as RunDatabaseError {
            guard case let .invalidConfiguration(_, runId, problem) = e else { Issue.record("\(e)"); return }
            #expect(runId == id)
            #expect(problem.hasPrefix(option), "\(problem)")
            #expect(e.description.contains("qbench run"))
        }
    }

    @Test func validConfigurationPasses() throws {
        try config.validate()
        try RunConfiguration(benchFile: "b", modelFile: "m", dataDirectory: "d").validate()
    }

    /// A flipped byte in a checkpoint used to resume to "accuracy 253.60 %".
    @Test func damagedCheckpointIsDetected() throws {
        let (db, id) = try populated()
        #expect(try db.latestCheckpoint(id)?.data == Data("{\"nextBlock\":1}".utf8))
        let stored = try #require(try db.queue.read { try Data.fetchOne($0, sql: "SELECT checkpoint FROM journal WHERE runId = ?", arguments: [id]) })
        for position in [0, 5, 12, stored.count - 3] {
            var flipped = stored
            flipped[position] ^= 0x04
            try db.queue.write { try $0.execute(sql: "UPDATE journal SET checkpoint = ? WHERE runId = ?", arguments: [flipped, id]) }
            do { _ = try db.latestCheckpoint(id); Issue.record("accepted a flip at \(position)") } catch let e as RunDatabaseError {
                guard case let .damagedCheckpoint(_, runId, sequence) = e else { Issue.record("\(e)"); return }
                #expect(runId == id && sequence == 0)
            }
        }
    }

    /// Two writers on one QBENCH_HOME: the second waits for the first's transaction instead of
    /// failing at once with "database is locked".
    @Test func concurrentWritersWaitForEachOther() throws {
        let (a, id) = try populated()
        let b = try RunDatabase(directory: a.url.deletingLastPathComponent())
        // The holder is a thread of its own (not a task: on a busy 2-core machine the concurrency
        // pool may not run it for seconds) and says when it holds the write lock.
        let acquired = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let holder = Thread {
            try? a.queue.write { db in
                try db.execute(sql: "UPDATE run SET bench = 'held' WHERE id = ?", arguments: [id])
                acquired.signal()
                Thread.sleep(forTimeInterval: 1.0)
            }
            finished.signal()
        }
        holder.start()
        acquired.wait()
        let started = ContinuousClock.now
        try b.journal(id, kind: .event, step: "second writer")
        #expect(ContinuousClock.now - started > .milliseconds(300))
        finished.wait()
        #expect(try b.journalEntries(id).map(\.step) == ["block 0", "second writer"])
    }

    /// Two processes' worth of connections writing at once, many times.
    @Test func manyConcurrentJournalWritesAllLand() async throws {
        let (a, id) = try populated()
        let b = try RunDatabase(directory: a.url.deletingLastPathComponent())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for db in [a, b] {
                group.addTask { for k in 0..<50 { try db.journal(id, kind: .event, step: "w\(k)") } }
            }
            try await group.waitForAll()
        }
        #expect(try a.journalEntries(id).count == 101)
    }

    /// Read-only commands open the database read-only: nothing is created or migrated, reads
    /// work, writes are refused by SQLite.
    @Test func readOnlyOpenReadsAndNeverWrites() throws {
        let (db, id) = try populated()
        try db.queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let ro = try RunDatabase(directory: db.url.deletingLastPathComponent(), readOnly: true)
        #expect(try ro.runs().map(\.id) == [id])
        #expect(try ro.journalEntries(id).count == 1)
        #expect(throws: (any Error).self) { try ro.journal(id, kind: .event, step: "x") }
        let empty = scratchDirectory().appendingPathComponent("nothing-here")
        #expect(throws: RunDatabaseError.missing(path: empty.appendingPathComponent("runs.sqlite").path)) { try RunDatabase(directory: empty, readOnly: true) }
        #expect(!FileManager.default.fileExists(atPath: empty.path))
    }

    /// On a full file system a run's last steps (safe state, status) still reach the journal: the
    /// database gives back its reserve and writes again (they were lost, the run left `running`).
    /// Needs a small tmpfs, so root with permission to mount.
    @Test func fullDiskStillJournalsTheEndOfARun() throws {
        let dir = scratchDirectory().appendingPathComponent("full")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        func sh(_ command: String) -> Int32 {
            let p = Process(); p.executableURL = URL(fileURLWithPath: "/bin/sh"); p.arguments = ["-c", command]
            p.standardError = FileHandle.nullDevice; p.standardOutput = FileHandle.nullDevice
            do { try p.run() } catch { return -1 }
            p.waitUntilExit(); return p.terminationStatus
        }
        guard getuid() == 0, sh("mount -t tmpfs -o size=12m tmpfs \(dir.path)") == 0 else {
            print("fullDiskStillJournalsTheEndOfARun: cannot mount a tmpfs here (needs root): not run")
            return
        }
        defer { _ = sh("umount \(dir.path)") }
        let db = try RunDatabase(directory: dir)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs.sqlite.reserve").path))
        let id = RunDatabase.newRunID()
        try db.createRun(id: id, configuration: config, bench: "sim", benchSnapshot: nil, calibrationIds: ["a"], modelId: "m", codeVersion: "v", arguments: ["qbench"])
        // Fill the file system.
        _ = sh("dd if=/dev/zero of=\(dir.path)/filler bs=64k 2>/dev/null")
        let detail = String(repeating: "x", count: 4000)
        for k in 0..<3 { _ = try db.journal(id, kind: .safeState, step: "server.laser: ramp-down \(k)", detail: detail) }
        try db.setStatus(id, .interrupted)
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("runs.sqlite.reserve").path))
        #expect(try db.journalEntries(id).filter { $0.kind == .safeState }.count == 3)
        #expect(try db.run(id).status == .interrupted)
    }

    /// A run on a QBENCH_HOME it cannot write is refused with the folder named and what to do
    /// (it was a bare "SQLite error 14: unable to open database file"). Read-only by a read-only
    /// tmpfs mount when this process may mount (root stops at EROFS, not at permissions), else by
    /// permissions (for anyone but root).
    @Test func unwritableHomeIsNamed() throws {
        let (db, _) = try populated()
        let home = db.url.deletingLastPathComponent()
        try db.queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        let readOnly = scratchDirectory().appendingPathComponent("ro")
        try FileManager.default.createDirectory(at: readOnly, withIntermediateDirectories: true)
        func sh(_ args: [String]) -> Int32 {
            let p = Process(); p.executableURL = URL(fileURLWithPath: "/bin/sh"); p.arguments = ["-c"] + [args.joined(separator: " ")]
            p.standardError = FileHandle.nullDevice
            do { try p.run() } catch { return -1 }
            p.waitUntilExit(); return p.terminationStatus
        }
        var mounted = false
        if getuid() == 0 {
            mounted = sh(["mount -t tmpfs -o size=4m tmpfs", readOnly.path, "&& cp", db.url.path, readOnly.path + "/ && mount -o remount,ro", readOnly.path]) == 0
            if !mounted { _ = sh(["umount", readOnly.path]) }
        } else {
            try FileManager.default.copyItem(at: db.url, to: readOnly.appendingPathComponent("runs.sqlite"))
            try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: readOnly.path)
        }
        defer { if mounted { _ = sh(["umount", readOnly.path]) } else { try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: readOnly.path) } }
        guard mounted || getuid() != 0 else {
            print("unwritableHomeIsNamed: root without permission to mount: the read-only case cannot be made here")
            return
        }
        #expect(throws: RunDatabaseError.self) { try RunDatabase(directory: readOnly) }
        do { _ = try RunDatabase(directory: readOnly) } catch let error as RunDatabaseError {
            guard case let .notWritable(path, _) = error else { Issue.record("\(error)"); return }
            #expect(path == readOnly.path && error.description.contains("set QBENCH_HOME to a writable folder"))
        }
        // Reading still works there.
        #expect(try RunDatabase(directory: readOnly, readOnly: true).runs().count == 1)
        _ = home
    }
}

@Suite("Layer frames from outside values")
struct LayerFrameInputTests {
    @Test(arguments: [-1, -392, Int.max, Int.max / 2, 1 << 40, 1 << 25])
    func badVacuumSlotCountsThrow(_ v: Int) throws {
        let weights = Matrix(rows: 4, cols: 8, values: (0..<32).map { Float($0 % 5) - 2 })
        #expect(throws: LayerFrame.FrameError.self) { try LayerFrame(weights: weights, photonsPerMode: 4, vacuumSlotsPerRow: v) }
    }

    @Test func ordinaryVacuumSlotCountsWork() throws {
        let weights = Matrix(rows: 4, cols: 8, values: (0..<32).map { Float($0 % 5) - 2 })
        #expect(try LayerFrame(weights: weights, photonsPerMode: 4, vacuumSlotsPerRow: 4).layout.slotsPerShot == 4 * (4 + 4))
    }
}
