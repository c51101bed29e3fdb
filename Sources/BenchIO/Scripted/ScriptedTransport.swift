import Synchronization

/// A `MessageTransport` that plays a script, for byte-exact protocol tests of drivers in the
/// style of PyMeasure's and InstrumentKit's `expected_protocol`: a list of
/// the exact bytes the code under test must write, each with the reply the instrument gives.
///
/// It fails, with a message that shows expected and actual bytes, on
/// - a write that differs from the next scripted one, or any write after the script ended;
/// - a write while the previous reply has not been read;
/// - a read when no reply is scripted;
/// - anything left unconsumed when `finish()` is called.
/// Failures are thrown as `TransportError.scriptMismatch` and also remembered, so `finish()`
/// reports them even if the code under test swallowed the error.
public final class ScriptedTransport: MessageTransport, Sendable {
    /// What the instrument does after a scripted write.
    public enum Reply: Sendable, Equatable {
        /// Nothing (a set command).
        case noReply
        /// A reply delivered in these chunks (one chunk = one transfer; the last ends the
        /// message). Use several chunks to test replies that span transfers.
        case chunks([[UInt8]])
        /// The next read times out (the instrument does not answer).
        case timeout
        /// The next read finds the device gone.
        case deviceGone
    }

    /// One scripted step: either a write and its reply, or an expected device clear.
    public struct Step: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case write([UInt8], Reply)
            case deviceClear
        }
        public var kind: Kind

        public init(_ kind: Kind) { self.kind = kind }

        /// `write` must be exactly these bytes; `reply` follows (nil: none).
        public static func exchange(_ write: [UInt8], reply: [UInt8]?) -> Step {
            Step(.write(write, reply.map { .chunks([$0]) } ?? .noReply))
        }

        /// Text form: the strings are sent and expected byte for byte (include terminators).
        public static func exchange(_ write: String, reply: String?) -> Step {
            exchange(Array(write.utf8), reply: reply.map { Array($0.utf8) })
        }

        /// A write whose reply arrives in several transfers.
        public static func exchange(_ write: String, replyChunks: [[UInt8]]) -> Step {
            Step(.write(Array(write.utf8), .chunks(replyChunks)))
        }

        /// A write after which the instrument stays silent or disappears.
        public static func exchange(_ write: String, reply: Reply) -> Step {
            Step(.write(Array(write.utf8), reply))
        }

        /// A set command: this write, no reply.
        public static func write(_ write: String) -> Step {
            exchange(write, reply: nil)
        }

        /// `clear(timeout:)` is expected here.
        public static let deviceClear = Step(.deviceClear)
    }

    private struct State {
        var steps: [Step]
        var next = 0
        var pending: [[UInt8]] = []
        var pendingFailure: Reply?
        var pendingFrom = -1
        var lastWrite: [UInt8]?
        var violations: [String] = []
    }

    public let resourceName: String
    private let state: Mutex<State>

    public init(resourceName: String = "scripted instrument", _ steps: [Step]) {
        self.resourceName = resourceName
        self.state = Mutex(State(steps: steps))
    }

    /// PyMeasure style: `(command, reply)` pairs without terminators; `terminator` is appended
    /// to every command and every reply.
    public convenience init(resourceName: String = "scripted instrument", terminator: String = "\n",
                            _ pairs: [(String, String?)]) {
        self.init(resourceName: resourceName, pairs.map { pair in
            Step.exchange(pair.0 + terminator, reply: pair.1.map { $0 + terminator })
        })
    }

    /// True when every step was consumed, every reply read and nothing went wrong.
    public var isFinished: Bool {
        state.withLock { $0.next == $0.steps.count && $0.pending.isEmpty && $0.pendingFailure == nil && $0.violations.isEmpty }
    }

    /// Every violation so far.
    public var violations: [String] { state.withLock { $0.violations } }

    /// Throws if a violation happened or the script was not fully consumed.
    public func finish() throws(TransportError) {
        let problem: String? = state.withLock { s in
            var lines = s.violations
            if !s.pending.isEmpty || s.pendingFailure != nil {
                lines.append("the reply to step \(s.pendingFrom + 1) was never read (\(Self.describe(s.pending, s.pendingFailure)))")
            }
            if s.next < s.steps.count {
                let rest = s.steps[s.next...].enumerated().map { i, step in "  step \(s.next + i + 1): \(Self.describe(step))" }
                lines.append("\(s.steps.count - s.next) scripted step(s) were never reached:\n" + rest.joined(separator: "\n"))
            }
            return lines.isEmpty ? nil : lines.joined(separator: "\n")
        }
        if let problem { throw .scriptMismatch("\(resourceName) script not satisfied:\n\(problem)") }
    }

    // MARK: - MessageTransport

    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        let name = resourceName
        let failure: String? = state.withLock { s in
            defer { s.lastWrite = message }
            if !s.pending.isEmpty || s.pendingFailure != nil {
                return "write \(describeBytes(message)) while the reply to step \(s.pendingFrom + 1) "
                    + "(\(Self.describe(s.pending, s.pendingFailure))) was not read"
            }
            guard s.next < s.steps.count else {
                return "unexpected write \(describeBytes(message)): all \(s.steps.count) scripted steps were already used"
            }
            guard case let .write(expected, reply) = s.steps[s.next].kind else {
                return "step \(s.next + 1): expected a device clear, got write \(describeBytes(message))"
            }
            guard expected == message else {
                return "step \(s.next + 1): expected write \(describeBytes(expected)), got \(describeBytes(message))"
                    + Self.firstDifference(expected, message)
            }
            switch reply {
            case .noReply: break
            case .chunks(let chunks): s.pending = chunks.isEmpty ? [[]] : chunks
            case .timeout, .deviceGone: s.pendingFailure = reply
            }
            s.pendingFrom = s.next
            s.next += 1
            return nil
        }
        if let failure { throw record("\(name): \(failure)") }
    }

    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        let name = resourceName
        enum Outcome { case chunk(MessageChunk), fail(TransportError), violation(String) }
        let outcome: Outcome = state.withLock { s in
            if let failure = s.pendingFailure {
                s.pendingFailure = nil
                switch failure {
                case .deviceGone:
                    return .fail(.deviceGone(resource: name, detail: "scripted: the device disappeared"))
                default:
                    return .fail(.timeout(resource: name, operation: "reading a reply", limit: timeout,
                                          recovery: "scripted timeout"))
                }
            }
            guard !s.pending.isEmpty else {
                let last = s.lastWrite.map { "the last write was \(describeBytes($0))" } ?? "nothing was written yet"
                return .violation("read with nothing scripted (\(last); no reply is scripted for it)")
            }
            var first = s.pending.removeFirst()
            if first.count > maxLength {
                s.pending.insert(Array(first[maxLength...]), at: 0)
                first = Array(first[..<maxLength])
            }
            return .chunk(MessageChunk(bytes: first, isEndOfMessage: s.pending.isEmpty))
        }
        switch outcome {
        case .chunk(let chunk): return chunk
        case .fail(let error): throw error
        case .violation(let text): throw record("\(name): \(text)")
        }
    }

    public func clear(timeout: Duration) throws(TransportError) {
        let name = resourceName
        let failure: String? = state.withLock { s in
            guard s.next < s.steps.count, case .deviceClear = s.steps[s.next].kind else {
                let expected = s.next < s.steps.count ? Self.describe(s.steps[s.next]) : "nothing (the script has ended)"
                return "unexpected device clear: expected \(expected)"
            }
            s.pending = []
            s.pendingFailure = nil
            s.next += 1
            return nil
        }
        if let failure { throw record("\(name): \(failure)") }
    }

    // MARK: - Messages

    private func record(_ text: String) -> TransportError {
        state.withLock { $0.violations.append(text) }
        return .scriptMismatch(text)
    }

    private static func describe(_ step: Step) -> String {
        switch step.kind {
        case .deviceClear: return "device clear"
        case let .write(bytes, reply): return "write \(describeBytes(bytes)) → " + describe([], reply)
        }
    }

    private static func describe(_ chunks: [[UInt8]], _ reply: Reply?) -> String {
        switch reply {
        case .timeout?: return "timeout"
        case .deviceGone?: return "device gone"
        case .noReply?: return "no reply"
        case .chunks(let c)?: return "reply " + c.map { describeBytes($0) }.joined(separator: " + ")
        case nil: return chunks.isEmpty ? "no reply" : "reply " + chunks.map { describeBytes($0) }.joined(separator: " + ")
        }
    }

    private static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        let common = zip(a, b).prefix { $0 == $1 }.count
        if common == a.count { return " (\(b.count - a.count) extra bytes at the end)" }
        if common == b.count { return " (\(a.count - b.count) bytes missing at the end)" }
        return " (first difference at byte \(common): expected \(describeBytes([a[common]])), got \(describeBytes([b[common]])))"
    }
}

extension ScriptedTransport {
    /// Runs `body` with an `SCPISession` over a script and then checks the script was followed
    /// exactly (PyMeasure's `expected_protocol`). Throws the body's error, or the script's.
    public static func expectProtocol<R: Sendable>(
        _ steps: [Step], options: SCPISession.Options = SCPISession.Options(),
        _ body: (SCPISession) async throws -> R
    ) async throws -> R {
        let transport = ScriptedTransport(steps)
        let session = SCPISession(transport: transport, options: options)
        let result = try await body(session)
        try transport.finish()
        return result
    }
}
