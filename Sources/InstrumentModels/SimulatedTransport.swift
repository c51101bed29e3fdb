import BenchIO

/// A `MessageTransport` straight into a simulated instrument, in memory: the L1 tests run
/// the same drivers and the same `SCPIInstrumentModel` the bus tests run over USB.
public final class SimulatedTransport: MessageTransport, Sendable {
    public let resourceName: String
    public let device: any SCPIMessageDevice
    /// Replies are handed out in chunks of at most this many bytes, like USB transfers.
    public let maxChunkSize: Int

    public init(device: any SCPIMessageDevice, resourceName: String = "simulated instrument", maxChunkSize: Int = 1 << 20) {
        self.device = device
        self.resourceName = resourceName
        self.maxChunkSize = Swift.max(1, maxChunkSize)
    }

    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        device.receive(message)
    }

    /// Throws `.timeout` at once when no reply is pending (a real instrument would make the
    /// caller wait the whole timeout).
    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        guard let chunk = device.readResponse(maxLength: Swift.min(maxLength, maxChunkSize)) else {
            throw .timeout(resource: resourceName, operation: "reading a reply", limit: timeout,
                           recovery: "the simulated instrument has no reply pending")
        }
        return chunk
    }

    public func clear(timeout: Duration) throws(TransportError) {
        device.deviceClear()
    }
}
