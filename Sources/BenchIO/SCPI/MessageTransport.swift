/// Part of a device-dependent message read from an instrument. Over USBTMC, one chunk is one
/// DEV_DEP_MSG_IN transfer and `isEndOfMessage` is its EOM bit (USBTMC 1.0 Table 9); a
/// message may span many chunks (long replies, waveforms).
public struct MessageChunk: Sendable, Equatable {
    public var bytes: [UInt8]
    public var isEndOfMessage: Bool

    public init(bytes: [UInt8], isEndOfMessage: Bool) {
        self.bytes = bytes
        self.isEndOfMessage = isEndOfMessage
    }
}

/// Moves whole messages (bytes) to and from one instrument. Implementations: the USBTMC
/// message layer (`USBTMCInstrument`), `ScriptedTransport` for protocol tests, and the
/// simulated instruments of `InstrumentModels`. Higher layers (`SCPISession`, drivers) only
/// see this protocol, so a driver runs unchanged on a real bench, in a scripted test and in
/// simulation.
///
/// Terminators are the caller's business: `write` sends exactly the bytes given and `read`
/// returns exactly the bytes received. Every timeout is a `Duration`.
public protocol MessageTransport: Sendable {
    /// Names the instrument in error messages, e.g. `USBTMC 1313:8072 serial P2000001`.
    var resourceName: String { get }

    /// Sends one complete message (over USBTMC: DEV_DEP_MSG_OUT transfers, EOM on the last).
    func write(_ message: [UInt8], timeout: Duration) async throws(TransportError)

    /// Reads the next part of the pending reply: at most `maxLength` bytes (over USBTMC: one
    /// REQUEST_DEV_DEP_MSG_IN / DEV_DEP_MSG_IN exchange).
    func readChunk(maxLength: Int, timeout: Duration) async throws(TransportError) -> MessageChunk

    /// Reads one complete message (until end of message), at most `maxLength` bytes, within
    /// `timeout` overall.
    func read(timeout: Duration, maxLength: Int) async throws(TransportError) -> [UInt8]

    /// Device clear: discards the instrument's input and output buffers (USBTMC
    /// INITIATE_CLEAR, IEEE 488.2 §5.8 DCL). Does not clear the error queue.
    func clear(timeout: Duration) async throws(TransportError)
}

extension MessageTransport {
    /// Default `read`: chunks until end of message, within one overall deadline.
    public func read(timeout: Duration, maxLength: Int = 64 << 20) async throws(TransportError) -> [UInt8] {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var message: [UInt8] = []
        while true {
            let remaining = deadline - clock.now
            guard remaining > .zero else {
                throw .timeout(resource: resourceName, operation: "reading a reply", limit: timeout,
                               recovery: "\(message.count) bytes of an unfinished message arrived before the deadline")
            }
            let chunk: MessageChunk
            do {
                chunk = try await readChunk(maxLength: maxLength - message.count, timeout: remaining)
            } catch {
                // Report the caller's limit, not what was left of it for this chunk.
                if case let .timeout(resource, operation, _, recovery) = error {
                    throw .timeout(resource: resource, operation: operation, limit: timeout, recovery: recovery)
                }
                throw error
            }
            message += chunk.bytes
            if chunk.isEndOfMessage { return message }
            guard message.count < maxLength else {
                throw .responseTooLong(resource: resourceName, limit: maxLength)
            }
        }
    }
}
