import Foundation
import SessionProtocol
import Testing

/// Small but complete operating point: 2 blocks (3 + 2 images), 2 layers, bursts of 2 shots.
let testParameters = SessionParameters.make(
    gain: 2, photonsPerMode: 4, modesPerRow: 4, vacuumSlotsPerRow: 4,
    layers: [(rows: 4, modesPerRow: 4), (rows: 2, modesPerRow: 2)],
    images: 5, blockImages: 3, shotsPerBurst: 2, weightLeakageBudgetBitsPerMode: 0.1, delta: 1e-9
)

func verdict(block: Int, decision: SessionDecision = .collecting) -> SessionMessage {
    .verdict(.with {
        $0.block = UInt32(block)
        $0.transmittance = 0.98
        $0.excessNoise = 0.003
        $0.transmittanceLowerBound = 0.97
        $0.excessNoiseUpperBound = 0.006
        $0.weightLeakageBitsPerMode = 0.087
        $0.weightLeakageBoundBitsPerMode = 0.09
        $0.modesSoFar = UInt64(block + 1) * 1000
        $0.decision = decision
        $0.reason = decision == .abort ? "excess noise above budget" : "honest"
    })
}

/// One step of the canonical session: a fixed message, or the commit due from a side.
enum ScriptStep: Sendable, CustomStringConvertible {
    case message(SessionSide, SessionMessage)
    case commit(SessionSide)

    var sender: SessionSide {
        switch self {
        case let .message(s, _), let .commit(s): s
        }
    }
    var description: String {
        switch self {
        case let .message(s, m): "\(s):\(m.kind)"
        case let .commit(s): "\(s):commit"
        }
    }
}

/// Every message of an honest session with `parameters`, in order.
func canonicalScript(_ parameters: SessionParameters = testParameters, lastDecision: SessionDecision = .certified) -> [ScriptStep] {
    var steps: [ScriptStep] = [
        .message(.client, .hello(softwareVersion: "test-client")),
        .message(.server, .hello(softwareVersion: "test-server")),
        .message(.server, .request(sessionID: "session-1", parameters: parameters)),
        .message(.client, .accept(parameters: parameters)),
    ]
    for b in 0..<parameters.blockCount {
        for l in 0..<parameters.layers.count {
            steps.append(.message(.server, .layerReady(block: UInt32(b), layer: UInt32(l))))
            for k in 0..<parameters.burstCount(block: b) {
                let plan = parameters.burst(block: b, burst: k)
                let (b32, l32, k32) = (UInt32(b), UInt32(l), UInt32(k))
                steps.append(.message(.client, .clientArmed(block: b32, layer: l32, burst: k32, shots: plan.shots, firstShotIndex: plan.firstShotIndex)))
                steps.append(.message(.server, .fired(block: b32, layer: l32, burst: k32)))
                steps.append(.message(.client, .clientMeasured(block: b32, layer: l32, burst: k32)))
                steps.append(.message(.server, .returnedLightAcquired(block: b32, layer: l32, burst: k32)))
            }
        }
        steps.append(.message(.server, verdict(block: b, decision: b + 1 == parameters.blockCount ? lastDecision : .collecting)))
        steps.append(.commit(.server))
        steps.append(.commit(.client))
    }
    steps.append(.message(.server, .end(summary: "5 images")))
    steps.append(.message(.client, .end(summary: "ok")))
    return steps
}

/// Two state machines, driven in lock-step by the script.
struct MachinePair {
    var server = SessionStateMachine(side: .server, softwareVersion: "test-server")
    var client = SessionStateMachine(side: .client, softwareVersion: "test-client")

    subscript(side: SessionSide) -> SessionStateMachine {
        get { side == .server ? server : client }
        set { if side == .server { server = newValue } else { client = newValue } }
    }

    /// The concrete message of `step` now (a commit is computed by its sender).
    func message(for step: ScriptStep) throws -> SessionMessage {
        switch step {
        case let .message(_, m): m
        case let .commit(side): try self[side].makeCommit()
        }
    }

    /// Sends `step` from its sender and delivers it; both must accept.
    mutating func advance(_ step: ScriptStep) throws {
        let m = try message(for: step)
        let envelope = try self[step.sender].send(m)
        let receipt = self[step.sender.peer].receive(envelope)
        guard case .accepted = receipt else {
            Issue.record("\(step) refused: \(receipt)")
            throw SessionUsageError("refused", remedy: "")
        }
    }
}

/// A deterministic server station for tests: runs `parameters` to the end with the given decisions.
func runServer(_ e: SessionEndpoint, parameters: SessionParameters = testParameters, decision: @Sendable (Int) -> SessionDecision = { _ in .collecting },
               timeout: Duration = .seconds(10)) async throws {
    guard case .hello = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected hello", remedy: "") }
    try await e.send(await e.hello)
    try await e.send(.request(sessionID: "session-1", parameters: parameters))
    switch try await e.receive(timeout: timeout) {
    case .accept: break
    case let .deny(d): throw SessionUsageError("denied: \(d.reason)", remedy: "")
    default: throw SessionUsageError("expected accept", remedy: "")
    }
    for b in 0..<parameters.blockCount {
        for l in 0..<parameters.layers.count {
            try await e.send(.layerReady(block: UInt32(b), layer: UInt32(l)))
            for k in 0..<parameters.burstCount(block: b) {
                guard case .clientArmed = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected armed", remedy: "") }
                try await e.send(.fired(block: UInt32(b), layer: UInt32(l), burst: UInt32(k)))
                guard case .clientMeasured = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected measured", remedy: "") }
                try await e.send(.returnedLightAcquired(block: UInt32(b), layer: UInt32(l), burst: UInt32(k)))
            }
        }
        let d = decision(b)
        try await e.send(verdict(block: b, decision: d))
        try await e.commit()
        guard case .commit = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected commit", remedy: "") }
        if d == .abort { break }
    }
    try await e.send(.end(summary: "done"))
    guard case .end = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected end", remedy: "") }
}

/// A reactive client station for tests.
func runClient(_ e: SessionEndpoint, timeout: Duration = .seconds(10)) async throws {
    try await e.send(await e.hello)
    guard case .hello = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected hello", remedy: "") }
    guard case let .request(r) = try await e.receive(timeout: timeout) else { throw SessionUsageError("expected request", remedy: "") }
    try await e.send(.accept(parameters: r.parameters))
    let p = r.parameters
    while true {
        switch try await e.receive(timeout: timeout) {
        case let .layerReady(m):
            let plan = p.burst(block: Int(m.block), burst: 0)
            try await e.send(.clientArmed(block: m.block, layer: m.layer, burst: 0, shots: plan.shots, firstShotIndex: plan.firstShotIndex))
        case let .fired(m):
            try await e.send(.clientMeasured(block: m.block, layer: m.layer, burst: m.burst))
        case let .returnedLightAcquired(m):
            let next = Int(m.burst) + 1
            if next < p.burstCount(block: Int(m.block)) {
                let plan = p.burst(block: Int(m.block), burst: next)
                try await e.send(.clientArmed(block: m.block, layer: m.layer, burst: UInt32(next), shots: plan.shots, firstShotIndex: plan.firstShotIndex))
            }
        case .verdict, .pause, .resume:
            break
        case .commit:
            try await e.commit()
        case .end:
            try await e.send(.end(summary: "client done"))
            return
        case let other:
            throw SessionUsageError("unexpected \(other.kind)", remedy: "")
        }
    }
}
