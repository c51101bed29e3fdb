import BenchKit
import Foundation

/// Which part of the testbed one twin simulates.
///
/// A bench file whose `link` is `sim://…` is a one-table bench: one engine holds both stations'
/// devices and hands each burst to its own client side in memory. A bench file whose `link` is
/// `sim-fiber://HOST:PORT` is one site of a split bench: the server's site (it binds the server's
/// roles) listens there and sends each burst's light down the fibre; the client's site connects and
/// answers with the light its optics send back (`TCPFiber`). Each site's twin holds only its own
/// devices' settings; the fibre carries amplitudes, never ξ, weights or the basis as such.
public enum TwinSite: String, Sendable {
    case table, server, client

    static func of(_ bench: BenchDescription) -> (TwinSite, host: String, port: Int)? {
        guard case let .simulatedFiber(host, port)? = bench.bindings[.link]?.address else { return nil }
        let server = bench.roles.contains { $0.station == .server }
        return (server ? .server : .client, host, port)
    }
}

/// The one-table bench's fibre: the client side is the same engine.
final class LocalFiber: FiberEnd, @unchecked Sendable {
    unowned let engine: SimulationEngine
    init(_ engine: SimulationEngine) { self.engine = engine }
    var peerDescription: String { "the client's optics on this table" }
    func exchange(_ light: ArrivingLight, timeout: Duration) throws -> ReturnedLight? {
        try engine.receive(light)
    }
}
