import BenchKit
import Foundation
import SessionProtocol

/// Why a station pauses its session before a burst, and how it waits for that to pass.
struct PauseCause {
    /// Journaled when the pause starts ("interlock tripped", "instrument disconnected").
    let event: String
    let detail: String
    /// Sent to the peer with `.pause`.
    let reason: String
    /// Waits (with the station's instruments safe) until the cause has passed, or throws at its
    /// timeout; returns the event and detail journaled when it has passed.
    let wait: () async throws -> (event: String, detail: String)
}

/// A station that pauses its session before a burst when its interlock is open or one of its
/// instruments is gone (Bluesky's suspenders): journal, `.pause` to the peer, its safe state, the
/// wait, journal, its warm-up, `.resume`. The server and the client share this one sequence.
protocol PausingStation: AnyObject {
    var env: StationEnvironment { get }
    /// The station whose roles this one drives (and reconnects).
    var side: Station { get }
    /// Whether this side has sent `.pause` without `.resume` yet (a pause within a pause, e.g. an
    /// instrument lost during the warm-up after an interlock trip, sends no second `.pause`).
    var sessionPaused: Bool { get set }
    func journal(_ kind: JournalEntry.Kind, _ step: String, detail: String?, block: BlockRecord?, checkpoint: Bool) throws
    /// The safe state of this station's instruments, every step journaled; never throws.
    func safeState() async
}

extension PausingStation {
    /// Pauses the session for `cause`, then brings the station back with `restart` (its warm-up
    /// and whatever a burst needs on top) and resumes.
    func pause(_ endpoint: SessionEndpoint, _ cause: PauseCause, restart: () async throws -> Void) async throws {
        try journal(.event, cause.event, detail: cause.detail, block: nil, checkpoint: false)
        if !sessionPaused {
            try await endpoint.send(.pause(reason: cause.reason))
            sessionPaused = true
        }
        await safeState()
        let passed = try await cause.wait()
        try journal(.event, passed.event, detail: passed.detail, block: nil, checkpoint: false)
        try await restart()
        try await endpoint.send(.resume())
        sessionPaused = false
    }

    /// Before a burst: if `role`'s interlock chain is open, pauses the session (`pause`) with this
    /// station's instruments safe until the chain clears (`interlockTimeout`; then the session
    /// stops, resumable), brings them back with `restart` and resumes. Whether it paused.
    @discardableResult
    func pauseWhileInterlockOpen(_ endpoint: SessionEndpoint, _ role: Role, restart: () async throws -> Void) async throws -> Bool {
        let bench = env.bench
        guard !(try await bench.interlockIsClear(role)) else { return false }
        let line = try bench.interlock(role)
        let timeout = env.interlockTimeout
        let chain = "the \(side.rawValue)'s interlock"
        try await pause(endpoint, PauseCause(
            event: "interlock tripped", detail: "\(chain): pausing, safe state until it clears (timeout \(timeout))",
            reason: "\(chain) tripped",
            wait: {
                let deadline = ContinuousClock.now + timeout
                while !(try await line.isClear()) {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { throw RunError.stopped("\(chain) did not clear within \(timeout)") }
                    _ = try await line.waitForChange(timeout: min(left, .seconds(1)))
                }
                return ("interlock cleared", "\(chain): warming up and continuing")
            }), restart: restart)
        return true
    }

    /// Runs the steps that come before a burst's light (loading, arming, the interlock check,
    /// routing). When one of this station's instruments is found gone there (`.disconnected`),
    /// the session pauses like an interlock trip while `Bench.reconnect` opens it again by its
    /// address and serial number (`reconnectTimeout`); the reconnected instrument is made safe
    /// with the rest, the station warms up (`restart`), resumes and runs the steps again from the
    /// first. An instrument lost during the pause's own warm-up is reconnected the same way
    /// (within one pause: no second `.pause`). A disconnect after the light was fired is not
    /// handled here (the burst's data is lost: the station stops, resumable).
    func beforeLight(_ endpoint: SessionEndpoint, restart: () async throws -> Void, _ steps: () async throws -> Void) async throws {
        var reconnects = 0
        var lost: (Role, DeviceError)?
        while true {
            do {
                if let (role, error) = lost {
                    lost = nil
                    try await pauseToReconnect(endpoint, role, error, restart: restart)
                }
                try await steps()
                return
            } catch let error as DeviceError where error.kind == .disconnected {
                guard let role = error.role, role.station == side, reconnects < maximumReconnectsPerBurst else { throw error }
                reconnects += 1
                lost = (role, error)
            }
        }
    }

    /// How often one burst's preparation may lose an instrument before the station stops.
    var maximumReconnectsPerBurst: Int { 3 }

    func pauseToReconnect(_ endpoint: SessionEndpoint, _ role: Role, _ error: DeviceError, restart: () async throws -> Void) async throws {
        let bench = env.bench, timeout = env.reconnectTimeout
        try await pause(endpoint, PauseCause(
            event: "instrument disconnected", detail: "\(role.rawValue): \(error.message); pausing: safe state while it is reconnected (timeout \(timeout))",
            reason: "the \(side.rawValue)'s \(role.rawValue) was disconnected",
            wait: {
                let identity = try await bench.reconnect(role, timeout: timeout)
                // Reconnected, it is reachable again: into the safe state with the others before
                // the warm-up (an unplugged cable may have left it as it was).
                await self.safeState()
                return ("instrument reconnected", "\(role.rawValue): \(identity); warming up and continuing")
            }), restart: restart)
    }
}

extension DeviceError {
    /// The role whose device raised this error: drivers name their device by its binding
    /// ("server.laser (thorlabs-cld1015 at usbtmc://…)"), the twin by the role alone.
    var role: Role? {
        Role(rawValue: String(device.prefix { $0 != " " }))
    }
}
