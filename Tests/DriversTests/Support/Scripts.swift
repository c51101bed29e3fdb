import BenchIO
import BenchKit
import Drivers
import Foundation
import InstrumentModels
import Testing

typealias Step = ScriptedTransport.Step

/// The repository's `Devices/instruments`, found from this file.
let library = InstrumentLibrary(directory: URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Devices/instruments"))

func description(_ model: String) throws -> InstrumentDescription { try library.description(model) }

/// Script building blocks, in the order the instrument sees them (terminators included).
enum S {
    static let noError = Step.exchange("SYST:ERR?\n", reply: "0,\"No error\"\n")
    /// A set command followed by the error-queue drain that SCPISession does after it.
    static func set(_ command: String) -> [Step] { [.write(command + "\n"), noError] }
    /// A set command the instrument rejects with `code`.
    static func rejected(_ command: String, _ code: Int, _ text: String) -> [Step] {
        [.write(command + "\n"), .exchange("SYST:ERR?\n", reply: "\(code),\"\(text)\"\n"), noError]
    }
    static func query(_ command: String, _ reply: String) -> [Step] { [.exchange(command + "\n", reply: reply + "\n")] }
    /// A set command carrying an IEEE 488.2 definite-length block.
    static func setBlock(_ command: String, _ payload: [UInt8]) -> [Step] {
        [.exchange(Array(command.utf8) + (try! IEEEBlock.encode(payload)) + [0x0A], reply: nil), noError]
    }
}

/// A link over a script; `finish()` checks the script was followed exactly.
func scripted(_ steps: [[Step]], name: String = "scripted instrument") -> (InstrumentLink, ScriptedTransport) {
    let transport = ScriptedTransport(resourceName: name, steps.flatMap { $0 })
    var options = SCPISession.Options()
    options.timeout = .milliseconds(200)
    return (InstrumentLink(transport: transport, options: options), transport)
}

/// A link into a simulated instrument running `model`.
func simulated<M: SCPIInstrumentModel>(_ model: M, name: String = "simulated instrument") -> (InstrumentLink, SimulatedSCPIDevice<M>) {
    let device = SimulatedSCPIDevice(model: model)
    return (InstrumentLink(transport: SimulatedTransport(device: device, resourceName: name)), device)
}

/// Little-endian int16 bytes.
func le16(_ codes: [Int16]) -> [UInt8] { codes.flatMap { c in withUnsafeBytes(of: c.littleEndian) { Array($0) } } }

/// Runs `body`, expects a `DeviceError` of `kind` whose text contains every fragment.
func expectDeviceError(_ kind: DeviceError.Kind, _ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                       _ body: () async throws -> Void) async {
    do {
        try await body()
        Issue.record("expected a \(kind) DeviceError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let e as DeviceError {
        #expect(e.kind == kind, "kind was \(e.kind): \(e)", sourceLocation: sourceLocation)
        for f in fragments { #expect("\(e)".contains(f), "'\(f)' not in: \(e)", sourceLocation: sourceLocation) }
    } catch {
        Issue.record("expected a DeviceError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
}

/// A transport into a simulated instrument that records the timeout of every write and read, to
/// check that long transfers get timeouts scaled to their size.
final class TimeoutRecordingTransport: MessageTransport, @unchecked Sendable {
    let inner: SimulatedTransport
    private let lock = NSLock()
    private var log: [(String, Duration)] = []
    init(_ inner: SimulatedTransport) { self.inner = inner }
    var resourceName: String { inner.resourceName }
    /// (the first 24 bytes of the message written, or "read"), with its timeout.
    var timeouts: [(String, Duration)] { lock.withLock { log } }
    private func record(_ what: String, _ timeout: Duration) { lock.withLock { log.append((what, timeout)) } }
    func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        record(String(decoding: message.prefix(24), as: UTF8.self), timeout)
        try inner.write(message, timeout: timeout)
    }
    func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        record("read", timeout)
        return try inner.readChunk(maxLength: maxLength, timeout: timeout)
    }
    func clear(timeout: Duration) throws(TransportError) { try inner.clear(timeout: timeout) }
}
