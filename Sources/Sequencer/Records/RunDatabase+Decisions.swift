import Foundation
import GRDB

extension RunDatabase {
    /// Journals the block that ended in an abort, the abort decision and the `aborted` status in one
    /// transaction: whatever kills the process afterwards, the session is recorded as aborted and
    /// never serves again.
    public func journalAbort(_ runId: String, step: String, block: BlockRecord, checkpoint: Data, reason: String) throws {
        try queue.write { db in
            var next = (try Int.fetchOne(db, sql: "SELECT MAX(sequence) FROM journal WHERE runId = ?", arguments: [runId]) ?? -1) + 1
            let now = Date()
            try db.execute(sql: "INSERT INTO journal (runId, sequence, at, kind, step, detail, checkpoint) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [runId, next, now, JournalEntry.Kind.step.rawValue, step, "abort: \(reason)", CheckpointSeal.seal(checkpoint)])
            try db.execute(sql: "INSERT OR REPLACE INTO block (runId, blockIndex, record) VALUES (?, ?, ?)",
                           arguments: [runId, block.blockIndex, try Self.json(block)])
            next += 1
            try db.execute(sql: "INSERT INTO journal (runId, sequence, at, kind, step, detail, checkpoint) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                           arguments: [runId, next, now, JournalEntry.Kind.decision.rawValue, "abort", reason])
            try db.execute(sql: "UPDATE run SET status = ? WHERE id = ?", arguments: [RunStatus.aborted.rawValue, runId])
        }
    }

    /// The reason of the run's abort decision, if its journal holds one.
    public func abortDecision(_ runId: String) throws -> String? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT detail FROM journal WHERE runId = ? AND kind = ? AND step = 'abort' ORDER BY sequence LIMIT 1",
                             arguments: [runId, JournalEntry.Kind.decision.rawValue]).map { ($0["detail"] as String?) ?? "no reason recorded" }
        }
    }
}
