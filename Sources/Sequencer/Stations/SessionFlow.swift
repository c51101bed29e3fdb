import BenchKit
import Foundation
import SessionProtocol

/// The next message of a session's flow for either station: the peer's Pause and Resume (its
/// interlock) are journaled through `journal` and skipped, its Abort ends the session as
/// `RunError.peer` with its reason; anything else is returned for the station to check.
func receiveFlow(_ endpoint: SessionEndpoint, timeout: Duration, journal: (_ step: String, _ detail: String?) throws -> Void) async throws -> SessionMessage {
    let peer = endpoint.side.peer
    while true {
        let m = try await endpoint.receive(timeout: timeout)
        switch m {
        case let .pause(p): try journal("\(peer) paused", p.reason)
        case .resume: try journal("\(peer) resumed", nil)
        case let .abort(a): throw RunError.peer("the \(peer) aborted: \(a.reason)")
        default: return m
        }
    }
}

extension RunStatus {
    /// How a station's session ends on `error`, and the failure it records: a stop or a lost peer
    /// is resumable (`interrupted`); a refused message, this side's misuse or anything else failed.
    static func ending(_ error: Error) -> (RunStatus, Error) {
        switch error {
        case let e as RunError:
            if case .stopped = e { return (.interrupted, e) }
            if case .peer = e { return (.interrupted, e) }
            return (.failed, e)
        case let e as Bench.ReconnectError:
            // The instrument is not back (or another one answers): resumable once it is.
            return (.interrupted, e)
        case let e as SessionFailure:
            if case .channel = e { return (.interrupted, RunError.peer("\(e)")) }
            return (.failed, RunError.peer("\(e)"))
        default:
            return (.failed, error)
        }
    }
}
