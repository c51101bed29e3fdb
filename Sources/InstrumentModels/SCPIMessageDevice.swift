import BenchIO

/// The device side of a message-based instrument, as a bus emulation sees it: messages in,
/// response bytes out, status byte, service requests, device clear, trigger. Implemented by
/// `SimulatedSCPIDevice`; driven by `SimulatedTransport` (in memory) and by the umockdev
/// USBTMC emulator of the bus tests.
public protocol SCPIMessageDevice: AnyObject, Sendable {
    /// A complete program message arrived (terminator included).
    func receive(_ message: [UInt8])
    /// Up to `maxLength` bytes of the pending response; `isEndOfMessage` on its last bytes.
    /// Nil when no response is pending (a real instrument would let the read time out).
    func readResponse(maxLength: Int) -> MessageChunk?
    /// The IEEE 488.2 status byte (§11.2), with MSS in bit 6.
    var statusByte: UInt8 { get }
    /// The status byte, once per service request (RQS rising edge), else nil.
    func takeServiceRequest() -> UInt8?
    /// Device clear (IEEE 488.2 §5.8, USBTMC INITIATE_CLEAR): input and output discarded.
    func deviceClear()
    /// The response being sent was aborted (USBTMC INITIATE_ABORT_BULK_IN).
    func abortResponse()
    /// Device trigger (USB488 TRIGGER, GPIB GET).
    func trigger()
}
