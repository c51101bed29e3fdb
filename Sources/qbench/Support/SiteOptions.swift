import ArgumentParser
import BenchKit
import Calibrate
import Foundation
import Sequencer
import SessionTransport
import X509

/// Where a station listens or connects, and its mutual-TLS credentials from the lab PKI
/// (`qbench pki`): DIR/NAME.pem, DIR/NAME-key.pem, trusted DIR/ca.pem.
struct SiteOptions: ParsableArguments {
    @Option(help: "Directory of the lab PKI (`qbench pki init`): its ca.pem is trusted.") var pki: String
    @Option(help: "This station's name in the lab PKI (`qbench pki issue --name NAME`).") var name: String
    @Option(help: "Run this station on its half of a simulated bench (a bench file of sim instruments, e.g. Devices/benches/sim.yaml), split at the twin's fibre at HOST:PORT: the server's site listens there, the client's connects.") var fiber: String?

    /// The station's site of `path`: the file as it is (a site bench file of real instruments), or,
    /// with `--fiber`, this station's half of a simulated bench, calibrated on first use with what
    /// the site measures alone.
    func openBench(_ path: String, as station: Station, store: CalibrationStore, photons: Double = 4, gain: Double = 2) async throws -> Bench {
        var description = try BenchDescription.load(try BenchOpening.url(path))
        if let fiber {
            let (host, port) = try Self.endpoint(fiber)
            description = try description.site(of: station, fiber: (host, port))
        }
        let bench = try await BenchOpening.open(description, station: station)
        try bench.requireSite(of: station)
        if fiber != nil { try await BenchOpening.calibrateTwinIfNeeded(bench, store: store, photons: photons, gain: gain, log: true) }
        return bench
    }

    func credentials() throws -> (StationCredentials, [Certificate]) {
        do {
            let credentials = try StationCredentials.load(certificate: LabPKI.certificatePath(pki, name: name), privateKey: LabPKI.keyPath(pki, name: name))
            return (credentials, [try LabPKI.readCertificate(LabPKI.caCertificatePath(pki))])
        } catch { throw CLIError(error.description) }
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
    /// station's roles is refused (it is a one-table bench: give `--fiber` to run this station's
    /// half of a simulated one, or run both stations with `qbench run`). A site is all real
    /// instruments or all twin, never a mix: a simulated VOA beside a real laser would set μ wrong by
    /// the whole VOA setting.
    func requireSite(of station: Station) throws {
        let foreign = roles.filter { $0.station != nil && $0.station != station }
        guard foreign.isEmpty else {
            throw CLIError("bench '\(description.name)' binds \(foreign.map(\.rawValue).joined(separator: ", ")), instruments of the \(station == .server ? "client" : "server") station: a \(station) station opens only its own; give it its site's bench file, or, for a simulated bench, --fiber HOST:PORT to run its half of the twin")
        }
        let simulated = description.bindings.values.filter { $0.driver == "sim" }.map(\.role.rawValue).sorted()
        guard !simulated.isEmpty else { return }
        // A mix of real and simulated instruments never opens (DriverRegistry.refuseMix).
        guard case .simulatedFiber? = description.bindings[.link]?.address else {
            throw CLIError("bench '\(description.name)' is simulated but its link is not the twin's fibre: give --fiber HOST:PORT (the same on both stations) to split it, or run both stations in one process with `qbench run`")
        }
    }
}
