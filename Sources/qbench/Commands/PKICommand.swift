import ArgumentParser
import Foundation
import SessionTransport

/// `qbench pki`: the lab CA and station certificates for the mutual-TLS session channel (docs/session-protocol.md).
struct PKICommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract: "Lab CA and station certificates for the session channel between the stations (mutual TLS).",
        discussion: "First setup: `qbench pki init --dir DIR`, then `qbench pki issue --dir DIR --name NAME --role server|client` per station, and `qbench pki fingerprint DIR/NAME.pem` for the other station's allow-list.",
        subcommands: [PKIInitCommand.self, PKIIssueCommand.self, PKIFingerprintCommand.self]
    )
}

private func pkiFailure(_ error: PKIError) -> CLIError { CLIError(error.description) }

struct PKIInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a lab CA (P-256) in DIR: ca.pem and ca-key.pem (0600).")

    @Option(help: "Directory of the lab PKI (created if missing).") var dir: String
    @Option(help: "The CA's common name.") var name = "qbench lab CA"
    @Option(parsing: .unconditional, help: "Validity in days.") var days = 3650
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable { let certificate: String; let privateKey: String; let subject: String; let notValidAfter: String; let certificateSHA256: String }

    func run() throws {
        do {
            let ca = try LabPKI.initialize(directory: dir, commonName: name, days: days)
            let out = Output(certificate: LabPKI.caCertificatePath(dir), privateKey: LabPKI.caKeyPath(dir), subject: String(describing: ca.certificate.subject),
                             notValidAfter: ISO8601DateFormatter().string(from: ca.certificate.notValidAfter), certificateSHA256: ca.certificate.sha256Fingerprint)
            if json { try printJSON(out); return }
            printLine("lab CA        \(out.subject), valid until \(out.notValidAfter)")
            printLine("certificate   \(out.certificate)")
            printLine("private key   \(out.privateKey) (0600: keep it offline once the stations are issued)")
            printLine("next          qbench pki issue --dir \(dir) --name NAME --role server|client")
        } catch let error as PKIError {
            throw pkiFailure(error)
        }
    }
}

struct PKIIssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue", abstract: "Issue a station certificate and key (NAME.pem, NAME-key.pem with 0600) from DIR's lab CA.")

    @Option(help: "Directory of the lab PKI (from `qbench pki init`).") var dir: String
    @Option(help: "Station name (common name and file name).") var name: String
    @Option(help: "server or client.") var role: String
    @Option(parsing: .unconditional, help: "Validity in days.") var days = 825
    @Option(help: "Subject alternative names, comma-separated DNS names or IP addresses.") var san = "localhost,127.0.0.1"
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable { let certificate: String; let privateKey: String; let role: String; let notValidAfter: String; let allowListEntries: [String] }

    func run() throws {
        guard let stationRole = StationRole(rawValue: role) else { throw CLIError("--role must be server or client, not '\(role)'") }
        do {
            let sans = san.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            let issued = try LabPKI.issue(directory: dir, name: name, role: stationRole, days: days, subjectAlternativeNames: sans)
            let cert = issued.credentials.certificate
            let out = Output(certificate: issued.certificate, privateKey: issued.privateKey, role: stationRole.rawValue,
                             notValidAfter: ISO8601DateFormatter().string(from: cert.notValidAfter),
                             allowListEntries: AllowListEntry.entries(for: cert).map(\.description))
            if json { try printJSON(out); return }
            printLine("\(stationRole) station \(name), valid until \(out.notValidAfter)")
            printLine("certificate   \(out.certificate)")
            printLine("private key   \(out.privateKey) (0600)")
            printLine("allow-list    \(out.allowListEntries[0])   (for the other station)")
        } catch let error as PKIError {
            throw pkiFailure(error)
        }
    }
}

struct PKIFingerprintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fingerprint", abstract: "Print the allow-list entries of a certificate (PEM).")

    @Argument(help: "A certificate file (PEM), e.g. DIR/NAME.pem.") var file: String
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable { let subject: String; let notValidAfter: String; let entries: [String] }

    func run() throws {
        do {
            let cert = try LabPKI.readCertificate(file)
            let out = Output(subject: String(describing: cert.subject), notValidAfter: ISO8601DateFormatter().string(from: cert.notValidAfter),
                             entries: AllowListEntry.entries(for: cert).map(\.description))
            if json { try printJSON(out); return }
            printLine("# \(out.subject), valid until \(out.notValidAfter)")
            for e in out.entries { printLine(e) }
        } catch let error as PKIError {
            throw pkiFailure(error)
        }
    }
}
