import Foundation
import GRDB

/// One client's account in the server's ledger.
public struct LedgerAccount: Sendable, Codable, Equatable {
    /// The client's identity: its certificate's SHA-256 over the gRPC transport, or the
    /// in-process client's name.
    public var client: String
    public var sessions: Int
    public var images: Int
    /// Σ over sessions of the certified bound on I_w (bit/mode) × images served: the weight
    /// leakage per weight symbol the client may have accumulated (leakage is per use, PROTOCOL.md §5).
    public var chargeBitsPerSymbol: Double
}

extension RunDatabase {
    /// Records (or updates, at every commit) what a session has served a client so far.
    public func charge(_ runId: String, client: String, images: Int, boundBitsPerMode: Double) throws {
        let charge = Double(images) * max(0, boundBitsPerMode)
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO ledger (runId, client, at, images, boundBitsPerMode, chargeBitsPerSymbol) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [runId, client, Date(), images, boundBitsPerMode, charge.isFinite ? charge : Double.greatestFiniteMagnitude])
        }
    }

    /// The client's account over every session but `excluding` (the one being planned or resumed).
    public func account(_ client: String, excluding runId: String? = nil) throws -> LedgerAccount {
        try read { db in
            guard try db.tableExists("ledger") else { return LedgerAccount(client: client, sessions: 0, images: 0, chargeBitsPerSymbol: 0) }
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS n, COALESCE(SUM(images), 0) AS images, COALESCE(SUM(chargeBitsPerSymbol), 0) AS charge
                FROM ledger WHERE client = ? AND runId != ?
                """, arguments: [client, runId ?? ""])
            return LedgerAccount(client: client, sessions: row?["n"] ?? 0, images: row?["images"] ?? 0, chargeBitsPerSymbol: row?["charge"] ?? 0)
        }
    }

    /// Every client's account, largest charge first.
    public func accounts() throws -> [LedgerAccount] {
        try read { db in
            guard try db.tableExists("ledger") else { return [] }
            return try Row.fetchAll(db, sql: """
                SELECT client, COUNT(*) AS n, SUM(images) AS images, SUM(chargeBitsPerSymbol) AS charge
                FROM ledger GROUP BY client ORDER BY charge DESC
                """).map { LedgerAccount(client: $0["client"], sessions: $0["n"], images: $0["images"], chargeBitsPerSymbol: $0["charge"]) }
        }
    }
}
