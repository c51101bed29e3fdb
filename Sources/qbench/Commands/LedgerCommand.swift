import ArgumentParser
import Foundation
import Sequencer

struct LedgerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "The server's ledger: the weight leakage each client may have accumulated over its sessions.",
        discussion: "Leakage is per use (docs/PROTOCOL.md §5): every image a client runs reuses every weight. Each session is charged its certified bound on I_w (bit/mode) times the images served, updated at every commit. `qbench run --lifetime-budget B` refuses, before light, a session that could take a client beyond B bit per weight symbol.")

    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable { let database: String; let accounts: [LedgerAccount] }

    func run() throws {
        let db: RunDatabase
        do { db = try RunDatabase(directory: StationOption.directory(.server), readOnly: true) } catch RunDatabaseError.missing(let path) {
            if json { try printJSON(Output(database: path, accounts: [])); return }
            printLine("no sessions in \(path): nothing served yet"); return
        }
        let accounts = try db.accounts()
        if json { try printJSON(Output(database: db.url.path, accounts: accounts)); return }
        if accounts.isEmpty { printLine("no client charged in \(db.url.path)"); return }
        printLine("client                                                            sessions   images  bit per weight symbol")
        for a in accounts {
            printLine(String(format: "%-65@ %8d %8d  %.4g", a.client as NSString, a.sessions, a.images, a.chargeBitsPerSymbol))
        }
    }
}
