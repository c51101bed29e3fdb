import Logging

/// SCPI over any `MessageTransport` (IEEE 488.2 message exchange, SCPI 1999): terminators,
/// queries with typed parsing, IEEE 488.2 common commands, binary blocks, and the error-queue
/// policy of docs/hardware.md §2.1: after every set command `SYST:ERR?` is read until `0,"No error"`
/// and any error becomes a typed `SCPIError.instrument` naming that command.
///
/// One session per instrument: the actor keeps each command/reply exchange atomic.
public actor SCPISession {
    public struct Options: Sendable, Equatable {
        /// Default timeout of every exchange.
        public var timeout: Duration = .seconds(5)
        /// Appended to every command (IEEE 488.2 §7.5: NL). Over USBTMC, EOM is the real
        /// terminator, but instruments expect the NL too.
        public var writeTerminator: [UInt8] = [0x0A]
        /// Drain the error queue after every set command (`write`) and throw on errors.
        public var checkErrorsAfterSet: Bool = true
        /// When a query times out, read the error queue to explain why.
        public var explainQueryTimeouts: Bool = true
        /// The error-queue query (`SYSTem:ERRor[:NEXT]?`).
        public var errorQuery: String = "SYST:ERR?"
        /// At most this many error-queue reads per check (docs/hardware.md §2.1: 32).
        public var errorQueueLimit: Int = 32
        /// Longest reply accepted (bytes).
        public var maxResponseLength: Int = 64 << 20

        public init() {}
    }

    public nonisolated let transport: any MessageTransport
    public var options: Options
    /// The I/O trace: every command sent and every reply read, at `.trace`, with the instrument's
    /// resource name (`qbench ... --io-trace FILE` writes it out; docs/hardware.md).
    nonisolated let io: Logger

    public init(transport: any MessageTransport, options: Options = Options(), io: Logger = Logger(label: SCPISession.ioLabel)) {
        self.transport = transport
        self.options = options
        var io = io
        io[metadataKey: "instrument"] = "\(transport.resourceName)"
        self.io = io
    }

    /// The label of the I/O trace logger.
    public static let ioLabel = "qbench.io"

    /// A reply as the trace shows it: text up to 200 characters, else its start and its length.
    static func traced(_ reply: [UInt8]) -> String {
        let text = String(decoding: reply.prefix(200), as: UTF8.self)
        return reply.count > 200 ? "\(text)… (\(reply.count) bytes)" : text
    }

    public nonisolated var resourceName: String { transport.resourceName }

    /// Changes the options (e.g. a longer timeout for a slow instrument).
    public func setOptions(_ options: Options) { self.options = options }

    // MARK: - Set commands

    /// Sends a set command, then drains the error queue and throws `SCPIError.instrument` if the
    /// instrument reported errors (unless `checkErrorsAfterSet` is off or `checkErrors` false).
    public func write(_ command: String, timeout: Duration? = nil, checkErrors: Bool = true) async throws(SCPIError) {
        try validate(command)
        try await send(Array(command.utf8) + options.writeTerminator, command: command, timeout: timeout)
        if checkErrors && options.checkErrorsAfterSet { try await checkErrorQueue(after: command) }
    }

    /// Sends `command` followed by an IEEE 488.2 definite-length block (IEEE 488.2 §7.7.6),
    /// e.g. `write("SOUR1:DATA:ARB myarb,", block: samples)` for a waveform upload; then drains
    /// the error queue like `write`.
    public func write(_ command: String, block: [UInt8], timeout: Duration? = nil, checkErrors: Bool = true) async throws(SCPIError) {
        try validate(command)
        let encoded: [UInt8]
        do throws(IEEEBlockError) {
            encoded = try IEEEBlock.encode(block)
        } catch {
            throw .invalidCommand(command: command, reason: error.description)
        }
        let label = "\(command)#<\(block.count) bytes>"
        try await send(Array(command.utf8) + encoded + options.writeTerminator, command: label, timeout: timeout)
        if checkErrors && options.checkErrorsAfterSet { try await checkErrorQueue(after: label) }
    }

    // MARK: - Queries

    /// Sends a query and returns the reply text without its terminator.
    public func query(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> String {
        String(decoding: try await queryBytes(command, timeout: timeout), as: UTF8.self)
    }

    /// Sends a query and returns the raw reply bytes without the trailing terminator.
    public func queryBytes(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> [UInt8] {
        try validate(command)
        let limit = timeout ?? options.timeout
        try await send(Array(command.utf8) + options.writeTerminator, command: command, timeout: limit)
        do throws(TransportError) {
            let reply = SCPIResponse.strippingTerminator(try await transport.read(timeout: limit, maxLength: options.maxResponseLength))
            io.trace("← \(Self.traced(reply))")
            return reply
        } catch {
            throw await explain(error, command: command)
        }
    }

    /// A query whose reply is one number (NR1/NR2/NR3; 9.9E37 → ∞, 9.91E37 → NaN).
    public func queryDouble(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> Double {
        let reply = try await query(command, timeout: timeout)
        guard let value = SCPIResponse.number(reply) else {
            throw .unexpectedResponse(command: command, response: reply, expected: "a number", resource: resourceName)
        }
        return value
    }

    /// A query whose reply is an integer.
    public func queryInt(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> Int {
        let reply = try await query(command, timeout: timeout)
        guard let value = SCPIResponse.integer(reply) else {
            throw .unexpectedResponse(command: command, response: reply, expected: "an integer", resource: resourceName)
        }
        return value
    }

    /// A query whose reply is a boolean (`1`/`0`/`ON`/`OFF`).
    public func queryBool(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> Bool {
        let reply = try await query(command, timeout: timeout)
        guard let value = SCPIResponse.boolean(reply) else {
            throw .unexpectedResponse(command: command, response: reply, expected: "1, 0, ON or OFF", resource: resourceName)
        }
        return value
    }

    /// A query whose reply is a comma-separated list of numbers (e.g. `:WAV:PRE?`).
    public func queryDoubles(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> [Double] {
        let reply = try await query(command, timeout: timeout)
        guard let values = SCPIResponse.numbers(reply) else {
            throw .unexpectedResponse(command: command, response: reply, expected: "comma-separated numbers", resource: resourceName)
        }
        return values
    }

    /// A query whose reply is an IEEE 488.2 block (waveforms, screenshots). The block is
    /// decoded incrementally, chunk by chunk, so it may span any number of transfers; the
    /// trailing terminator is consumed.
    public func queryBlock(_ command: String, timeout: Duration? = nil) async throws(SCPIError) -> [UInt8] {
        try validate(command)
        let limit = timeout ?? options.timeout
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        try await send(Array(command.utf8) + options.writeTerminator, command: command, timeout: limit)
        var decoder = IEEEBlockDecoder()
        var received = 0
        do {
            while true {
                let remaining = deadline - clock.now
                guard remaining > .zero else {
                    throw TransportError.timeout(resource: resourceName, operation: "reading a binary block", limit: limit,
                                                 recovery: "\(received) bytes arrived before the deadline")
                }
                let want = Swift.max(1, Swift.min(options.maxResponseLength - received, (decoder.remaining ?? 1 << 20) + 2))
                let chunk = try await transport.readChunk(maxLength: want, timeout: remaining)
                received += chunk.bytes.count
                do throws(IEEEBlockError) {
                    _ = try decoder.feed(chunk.bytes)
                    if chunk.isEndOfMessage {
                        try decoder.finish()
                        io.trace("← #<\(decoder.payload.count) bytes>")
                        return decoder.payload
                    }
                } catch {
                    // Resynchronise: the rest of this reply is garbage for us.
                    try? await transport.clear(timeout: limit)
                    throw SCPIError.malformedBlock(command: command, problem: error, resource: resourceName)
                }
                guard received < options.maxResponseLength else {
                    try? await transport.clear(timeout: limit)
                    throw TransportError.responseTooLong(resource: resourceName, limit: options.maxResponseLength)
                }
            }
        } catch {
            throw await explain(error, command: command)
        }
    }

    // MARK: - IEEE 488.2 common commands (IEEE 488.2 §10)

    /// `*IDN?` (§10.14) parsed into manufacturer, model, serial number and firmware.
    public func identify(timeout: Duration? = nil) async throws(SCPIError) -> SCPIIdentity {
        let reply = try await query("*IDN?", timeout: timeout)
        guard let identity = SCPIIdentity(response: reply) else {
            throw .unexpectedResponse(command: "*IDN?", response: reply, expected: "Manufacturer,Model,Serial,Firmware",
                                      resource: resourceName)
        }
        return identity
    }

    /// `*RST` (§10.32): instrument defaults. Does not clear the error queue.
    public func reset(timeout: Duration? = nil) async throws(SCPIError) {
        try await write("*RST", timeout: timeout)
    }

    /// `*CLS` (§10.3): clears the status registers and the error queue.
    public func clearStatus(timeout: Duration? = nil) async throws(SCPIError) {
        try await write("*CLS", timeout: timeout)
    }

    /// `*OPC?` (§10.19): returns when all pending operations are complete. Give it a timeout
    /// longer than the operation (docs/hardware.md §1.7).
    public func waitForOperationComplete(timeout: Duration? = nil) async throws(SCPIError) {
        let reply = try await query("*OPC?", timeout: timeout)
        guard SCPIResponse.integer(reply) == 1 else {
            throw .unexpectedResponse(command: "*OPC?", response: reply, expected: "1", resource: resourceName)
        }
    }

    /// `*STB?` (§10.36): the status byte, read through the message channel.
    public func statusByte(timeout: Duration? = nil) async throws(SCPIError) -> UInt8 {
        let value = try await queryInt("*STB?", timeout: timeout)
        guard (0...255).contains(value) else {
            throw .unexpectedResponse(command: "*STB?", response: String(value), expected: "0…255", resource: resourceName)
        }
        return UInt8(value)
    }

    /// `*ESR?` (§10.12): reads and clears the standard event status register.
    public func eventStatusRegister(timeout: Duration? = nil) async throws(SCPIError) -> UInt8 {
        let value = try await queryInt("*ESR?", timeout: timeout)
        guard (0...255).contains(value) else {
            throw .unexpectedResponse(command: "*ESR?", response: String(value), expected: "0…255", resource: resourceName)
        }
        return UInt8(value)
    }

    /// Device clear through the transport (USBTMC INITIATE_CLEAR), e.g. after a timeout
    /// when the instrument state is unknown.
    public func deviceClear(timeout: Duration? = nil) async throws(SCPIError) {
        do throws(TransportError) {
            try await transport.clear(timeout: timeout ?? options.timeout)
        } catch {
            throw .transport(command: "device clear", error: error)
        }
    }

    // MARK: - Error queue

    /// Reads `SYST:ERR?` until `0,"No error"` (at most `errorQueueLimit` times) and returns the
    /// errors, oldest first.
    public func readErrorQueue(timeout: Duration? = nil) async throws(SCPIError) -> [SCPIErrorEntry] {
        try await drainErrors(context: options.errorQuery, timeout: timeout)
    }

    /// Drains the error queue and throws `SCPIError.instrument(command:…)` if it held errors.
    public func checkErrorQueue(after command: String, timeout: Duration? = nil) async throws(SCPIError) {
        let errors = try await drainErrors(context: command, timeout: timeout)
        if !errors.isEmpty { throw .instrument(command: command, errors: errors, resource: resourceName) }
    }

    private func drainErrors(context command: String, timeout: Duration?) async throws(SCPIError) -> [SCPIErrorEntry] {
        var errors: [SCPIErrorEntry] = []
        for _ in 0..<options.errorQueueLimit {
            let reply = try await queryWithoutExplanation(options.errorQuery, timeout: timeout)
            guard let entry = SCPIErrorEntry(response: reply) else {
                throw .unexpectedResponse(command: options.errorQuery, response: reply, expected: "<code>,\"<message>\"",
                                          resource: resourceName)
            }
            if entry.isNoError { return errors }
            errors.append(entry)
        }
        throw .errorQueueNotDraining(command: command, errors: errors, limit: options.errorQueueLimit, resource: resourceName)
    }

    private func queryWithoutExplanation(_ command: String, timeout: Duration?) async throws(SCPIError) -> String {
        let limit = timeout ?? options.timeout
        try await send(Array(command.utf8) + options.writeTerminator, command: command, timeout: limit)
        do throws(TransportError) {
            let reply = SCPIResponse.strippingTerminator(try await transport.read(timeout: limit, maxLength: 4096))
            io.trace("← \(Self.traced(reply))")
            return String(decoding: reply, as: UTF8.self)
        } catch {
            throw .transport(command: command, error: error)
        }
    }

    // MARK: - Plumbing

    private func validate(_ command: String) throws(SCPIError) {
        if command.isEmpty { throw .invalidCommand(command: command, reason: "the command is empty") }
        if command.utf8.contains(0x0A) || command.utf8.contains(0x0D) {
            throw .invalidCommand(command: command, reason: "it contains a line terminator; send one command per call or chain with ';'")
        }
    }

    private func send(_ bytes: [UInt8], command: String, timeout: Duration?) async throws(SCPIError) {
        io.trace("→ \(command)")
        do throws(TransportError) {
            try await transport.write(bytes, timeout: timeout ?? options.timeout)
        } catch {
            throw .transport(command: command, error: error)
        }
    }

    /// A query that failed at the transport: if it timed out, ask the error queue why.
    private func explain(_ error: any Error, command: String) async -> SCPIError {
        if let scpi = error as? SCPIError { return scpi }
        guard let transportError = error as? TransportError else {
            return .transport(command: command, error: .protocolViolation(resource: resourceName, detail: "\(error)"))
        }
        if transportError.isTimeout && options.explainQueryTimeouts,
           let errors = try? await drainErrors(context: command, timeout: nil), !errors.isEmpty {
            return .queryRejected(command: command, errors: errors, resource: resourceName)
        }
        return .transport(command: command, error: transportError)
    }
}
