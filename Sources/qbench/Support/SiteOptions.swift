import ArgumentParser
import BenchKit
import Foundation
import Sequencer
import SessionTransport
import X509

/// Where a station listens or connects, and its mutual-TLS credentials from the lab PKI
/// (`qbench pki`): DIR/NAME.pem, DIR/NAME-key.pem, trusted DIR/ca.pem.
struct SiteOptions: ParsableArguments {
    @Option(help: "Directory of the lab PKI (`qbench pki init`): its ca.pem is trusted.") var pki: String
    @Option(help: "This station's name in the lab PKI (`qbench pki issue --name NAME`).") var name: String

    func credentials() throws -> (StationCredentials, [Certificate]) {
        do {
            let credentials = try StationCredentials.load(certificate: LabPKI.certificatePath(pki, name: name), privateKey: LabPKI.keyPath(pki, name: name))
            return (credentials, [try LabPKI.readCertificate(LabPKI.caCertificatePath(pki))])
        } catch let error as PKIError { throw CLIError(error.description) }
    }

    /// HOST:PORT, with the port in 1…65535.
    static func endpoint(_ text: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            throw CLIError("'\(text)' is not HOST:PORT (e.g. 127.0.0.1:7443)")
        }
        return (String(text[..<colon]), port)
    }
}

extension Bench {
    /// A station's command opens only its own instruments: a bench file that binds the other
    /// station's roles is refused (it is a one-table bench: run both stations with `qbench run`),
    /// and so is the twin, whose optics do not yet split at the fibre between two processes.
    func requireSite(of station: Station) throws {
        let foreign = roles.filter { $0.station != nil && $0.station != station }
        guard foreign.isEmpty else {
            throw CLIError("bench '\(description.name)' binds \(foreign.map(\.rawValue).joined(separator: ", ")), instruments of the \(station == .server ? "client" : "server") station: a \(station) station opens only its own; give it its site's bench file, or run both stations in one process with `qbench run`")
        }
        if BenchOpening.isSimulated(self) || description.bindings.values.contains(where: { $0.driver == "sim" }) {
            throw CLIError("bench '\(description.name)' binds simulated instruments: the twin cannot yet be split between two processes at the fibre (docs/two-sites.md); run the protocol on the twin with `qbench run`")
        }
    }
}
