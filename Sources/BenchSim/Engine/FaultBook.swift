import BenchKit

/// The faults in play on one simulated bench and the call counts that schedule them.
struct FaultBook: Sendable {
    struct Entry: Sendable {
        var fault: SimulatedFault
        /// Calls the role had answered when the fault was injected (after-calls counts from here).
        var callsAtInjection: Int
        var failedCalls = 0
    }

    enum CallOutcome: Equatable {
        case proceed
        case timeout(delay: Duration)
        case disconnected
        case instrumentError(String)
    }

    private(set) var entries: [Entry] = []
    private var calls: [Role: Int] = [:]

    var faults: [SimulatedFault] { entries.map(\.fault) }

    mutating func inject(_ fault: SimulatedFault) {
        entries.append(Entry(fault: fault, callsAtInjection: calls[fault.role, default: 0]))
    }

    mutating func clear(role: Role?) {
        entries.removeAll { role == nil || $0.fault.role == role }
    }

    /// Counts one call to `role` at simulated time `t` and says whether a fault intercepts it.
    mutating func call(_ role: Role, at t: Double) -> CallOutcome {
        let made = calls[role, default: 0]
        calls[role] = made + 1
        for k in entries.indices where entries[k].fault.role == role && entries[k].fault.kind.failsCalls {
            let f = entries[k].fault
            guard t >= f.at.inSeconds, made - entries[k].callsAtInjection >= f.afterCalls else { continue }
            if let c = f.count, entries[k].failedCalls >= c { continue }
            if let d = f.duration, t >= (f.at + d).inSeconds { continue }
            entries[k].failedCalls += 1
            switch f.kind {
            case let .timeout(delay): return .timeout(delay: delay)
            case .disconnect: return .disconnected
            case let .instrumentError(message): return .instrumentError(message)
            case .driftBurst, .deadReceiver: continue
            }
        }
        return .proceed
    }

    /// Whether a dead-receiver fault silences `role` at simulated time `t`.
    func isDead(_ role: Role, at t: Double) -> Bool {
        entries.contains { e in
            guard e.fault.role == role, case .deadReceiver = e.fault.kind, t >= e.fault.at.inSeconds else { return false }
            if let d = e.fault.duration { return t < (e.fault.at + d).inSeconds }
            return true
        }
    }
}
