import BenchIO
import Synchronization

/// An IEEE 488.2 instrument around an `SCPIInstrumentModel`: parses program messages, runs
/// the common commands, keeps the error queue (SCPI 1999 Vol. 2 §21.8, overflow → -350),
/// the standard event status register and its enable (§11.5), the service request enable
/// (§11.3.2), the status byte (§11.2) and the output queue (§6.1.10, MAV). A new message
/// while a reply is unread discards it with -410 Query INTERRUPTED (§6.3.2.3).
///
/// Thread-safe (one lock), because the bus emulator calls it from umockdev's worker thread.
public final class SimulatedSCPIDevice<Model: SCPIInstrumentModel>: SCPIMessageDevice, Sendable {
    struct State {
        var model: Model
        var errors: [SCPIErrorEntry] = []
        var esr: UInt8 = 0x80   // PON: the instrument was just powered on
        var ese: UInt8 = 0
        var sre: UInt8 = 0
        var output: [UInt8] = []
        var serviceRequestLatched = false
        var lastRQS = false
        var received: [String] = []
    }

    private let state: Mutex<State>
    /// Error queue depth (SCPI requires at least 2; instruments have 10–30).
    public let errorQueueCapacity: Int

    public init(model: Model, errorQueueCapacity: Int = 16) {
        self.state = Mutex(State(model: model))
        self.errorQueueCapacity = Swift.max(2, errorQueueCapacity)
    }

    /// Reads or changes the model (e.g. the optical power a test wants the meter to see).
    public func withModel<R: Sendable>(_ body: (inout Model) -> R) -> R {
        state.withLock { body(&$0.model) }
    }

    /// Every program message received, as text (for assertions).
    public var receivedMessages: [String] { state.withLock { $0.received } }

    /// The error queue as it stands (oldest first).
    public var errorQueue: [SCPIErrorEntry] { state.withLock { $0.errors } }

    /// Queues an error as if the instrument had detected it.
    public func pushError(_ entry: SCPIErrorEntry) {
        state.withLock { s in
            push(entry, &s)
            updateServiceRequest(&s)
        }
    }

    // MARK: - SCPIMessageDevice

    public func receive(_ message: [UInt8]) {
        state.withLock { s in
            s.received.append(String(decoding: SCPIResponse.strippingTerminator(message), as: UTF8.self))
            if !s.output.isEmpty {
                s.output = []
                push(SCPIErrorEntry(code: -410, message: "Query INTERRUPTED"), &s)
            }
            var responses: [[UInt8]] = []
            switch SCPIProgramParser.parse(message) {
            case .failure(let error):
                push(error.entry, &s)
            case .success(let commands):
                for command in commands {
                    let outcome = common(command, &s) ?? s.model.execute(command)
                    switch outcome {
                    case .done:
                        break
                    case .reply(let bytes):
                        if command.isQuery { responses.append(bytes) }
                    case .error(let entry):
                        push(entry, &s)
                    }
                }
            }
            if !responses.isEmpty {
                s.output = Array(responses.joined(separator: [UInt8(ascii: ";")])) + [0x0A]
            }
            updateServiceRequest(&s)
        }
    }

    public func readResponse(maxLength: Int) -> MessageChunk? {
        state.withLock { s in
            guard !s.output.isEmpty else { return nil }
            let n = Swift.min(Swift.max(0, maxLength), s.output.count)
            let bytes = Array(s.output.prefix(n))
            s.output.removeFirst(n)
            updateServiceRequest(&s)
            return MessageChunk(bytes: bytes, isEndOfMessage: s.output.isEmpty)
        }
    }

    public var statusByte: UInt8 { state.withLock { computeStatusByte($0) } }

    public func takeServiceRequest() -> UInt8? {
        state.withLock { s in
            guard s.serviceRequestLatched else { return nil }
            s.serviceRequestLatched = false
            return computeStatusByte(s)
        }
    }

    public func deviceClear() {
        state.withLock { s in
            s.output = []
            updateServiceRequest(&s)
        }
    }

    public func abortResponse() {
        state.withLock { s in
            s.output = []
            updateServiceRequest(&s)
        }
    }

    public func trigger() {
        state.withLock { s in
            s.model.trigger()
            updateServiceRequest(&s)
        }
    }

    // MARK: - IEEE 488.2

    private func push(_ entry: SCPIErrorEntry, _ s: inout State) {
        switch entry.category {
        case .command: s.esr |= 0x20
        case .execution: s.esr |= 0x10
        case .deviceSpecific, .instrumentSpecific: s.esr |= 0x08
        case .query: s.esr |= 0x04
        default: break
        }
        if s.errors.count >= errorQueueCapacity {
            s.errors[s.errors.count - 1] = SCPIErrorEntry(code: -350, message: "Queue overflow")
        } else {
            s.errors.append(entry)
        }
    }

    private func computeStatusByte(_ s: State) -> UInt8 {
        var stb = s.model.statusSummaryBits & 0x8B
        if !s.errors.isEmpty { stb |= 0x04 }              // EAV
        if !s.output.isEmpty { stb |= 0x10 }              // MAV
        if s.esr & s.ese != 0 { stb |= 0x20 }             // ESB
        if stb & s.sre & 0xBF != 0 { stb |= 0x40 }        // MSS / RQS
        return stb
    }

    private func updateServiceRequest(_ s: inout State) {
        let rqs = computeStatusByte(s) & 0x40 != 0
        if rqs && !s.lastRQS { s.serviceRequestLatched = true }
        s.lastRQS = rqs
    }

    private func registerValue(_ command: SCPICommand) -> UInt8? {
        guard let v = command.number(at: 0), v >= 0, v <= 255, v == v.rounded() else { return nil }
        return UInt8(v)
    }

    /// The common commands (IEEE 488.2 §10) and the SCPI error queue queries; nil for the rest.
    private func common(_ c: SCPICommand, _ s: inout State) -> SCPICommandOutcome? {
        if c.isCommon {
            switch (c.keywords[0], c.isQuery) {
            case ("*IDN", true): return .text(s.model.identity.description)
            case ("*RST", false): s.model.reset(); return .done
            case ("*CLS", false):
                s.errors = []
                s.esr = 0
                s.serviceRequestLatched = false
                return .done
            case ("*ESE", false):
                guard let v = registerValue(c) else { return .dataOutOfRange }
                s.ese = v
                return .done
            case ("*ESE", true): return .integer(Int(s.ese))
            case ("*ESR", true):
                let value = s.esr
                s.esr = 0
                return .integer(Int(value))
            case ("*SRE", false):
                guard let v = registerValue(c) else { return .dataOutOfRange }
                s.sre = v & 0xBF
                return .done
            case ("*SRE", true): return .integer(Int(s.sre))
            case ("*STB", true): return .integer(Int(computeStatusByte(s)))
            case ("*OPC", false): s.esr |= 0x01; return .done
            case ("*OPC", true): return .integer(1)
            case ("*WAI", false): return .done
            case ("*TST", true): return .integer(0)
            case ("*TRG", false): s.model.trigger(); return .done
            default: return .undefinedHeader
            }
        }
        if c.isQuery && (c.matches("SYSTem:ERRor[:NEXT]")) {
            guard !s.errors.isEmpty else { return .text("0,\"No error\"") }
            return .text(s.errors.removeFirst().description)
        }
        if c.isQuery && c.matches("SYSTem:ERRor:COUNt") { return .integer(s.errors.count) }
        if c.isQuery && c.matches("SYSTem:ERRor:ALL") {
            let all = s.errors.isEmpty ? "0,\"No error\"" : s.errors.map(\.description).joined(separator: ",")
            s.errors = []
            return .text(all)
        }
        if c.isQuery && c.matches("SYSTem:VERSion") { return .text("1999.0") }
        return nil
    }
}
