@testable import BenchIO
import Foundation
import Logging
import Testing

/// The I/O trace (`--io-trace FILE`): every command sent and every reply read, with the instrument.
@Suite("SCPI I/O trace")
struct IOTraceTests {
    final class Capture: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: [String] = []
        func append(_ s: String) { lock.lock(); stored.append(s); lock.unlock() }
        var lines: [String] { lock.lock(); defer { lock.unlock() }; return stored }
    }

    struct Handler: LogHandler {
        let capture: Capture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) { capture.append("\(metadata["instrument"].map { "\($0)" } ?? "?") \(event.level) \(event.message)") }
    }

    @Test func everyCommandAndReplyIsTracedWithTheInstrument() async throws {
        let id = "usbtmc://1313:8072?serial=P2000001"
        let transport = ScriptedTransport(resourceName: id, [
            .exchange("*IDN?\n", reply: "Thorlabs,PM100USB,P2000001,1.7.0\n"),
            .write("SENS:CORR:WAV 1550\n"),
            .exchange("SYST:ERR?\n", reply: "0,\"No error\"\n"),
            .exchange("DATA?\n", reply: String(repeating: "7", count: 300) + "\n"),
        ])
        let capture = Capture()
        let session = SCPISession(transport: transport, io: Logger(label: "test") { _ in Handler(capture: capture) })
        _ = try await session.identify()
        try await session.write("SENS:CORR:WAV 1550")
        _ = try await session.query("DATA?")
        try transport.finish()
        #expect(capture.lines == [
            "\(id) trace → *IDN?", "\(id) trace ← Thorlabs,PM100USB,P2000001,1.7.0",
            "\(id) trace → SENS:CORR:WAV 1550", "\(id) trace → SYST:ERR?", "\(id) trace ← 0,\"No error\"",
            "\(id) trace → DATA?", "\(id) trace ← \(String(repeating: "7", count: 200))… (300 bytes)",
        ])
    }
}
