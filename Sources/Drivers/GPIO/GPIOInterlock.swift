import BenchIO
import BenchKit

/// A laser-safety interlock input on a GPIO line (libgpiod v1, docs/hardware.md §4.1), requested
/// for both-edge events. An edge only wakes a waiter: the level reported is always read from the
/// line through the event request (`GPIOEdgeLine.value()`), because the kernel's 16-event FIFO
/// can drop the last edge of a bouncing contact (docs/driver-audit.md, G1). `clearLevel` is the
/// level that means safe to emit.
public actor GPIOInterlock: InterlockInput {
    public nonisolated var family: DeviceFamily { .interlock }
    public nonisolated let device: String
    let edges: GPIOEdgeLine
    let clearLevel: Bool
    /// The physical level, as last read.
    public private(set) var level: Bool
    private var waiting = false

    init(edges: GPIOEdgeLine, device: String, clearLevel: Bool, level: Bool) {
        self.edges = edges
        self.device = device
        self.clearLevel = clearLevel
        self.level = level
    }

    public static func open(chip: GPIOChip, offset: Int, consumer: String, device: String, clearLevel: Bool) throws -> GPIOInterlock {
        do {
            let edges = try chip.requestEdgeEvents(offset: offset, consumer: consumer, edges: .both)
            return GPIOInterlock(edges: edges, device: device, clearLevel: clearLevel, level: try edges.value())
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    public func identify() async throws -> InstrumentIdentity { edges.chip.identity(line: edges.offset) }

    /// An input has no state to make safe.
    public func makeSafe() async throws {}

    public func settings() async throws -> [String: String] {
        ["line": "\(edges.chip.name)/\(edges.offset)", "consumer": edges.consumer, "clear-level": clearLevel ? "high" : "low",
         "clear": try await isClear() ? "yes" : "no"]
    }

    /// Drops the edges already queued (no waiting) and reads the level. Returns whether there was an edge.
    @discardableResult
    private func refresh() throws -> Bool {
        do {
            var edge = false
            while try edges.waitForEdge(timeout: .zero) {
                _ = try edges.readEdge()
                edge = true
            }
            level = try edges.value()
            return edge
        } catch {
            throw DeviceError.from(error, device: device)
        }
    }

    /// Reads the line. While `waitForChange` waits (it holds the line), the level it last read.
    public func isClear() async throws -> Bool {
        if !waiting { try refresh() }
        return level == clearLevel
    }

    /// Waits for the line to change (an edge, waited for off the actor on a thread of its own) and
    /// returns whether the interlock is clear after it, as read from the line; nil when `timeout`
    /// passes with neither an edge nor a different level.
    public func waitForChange(timeout: Duration) async throws -> Bool? {
        guard !waiting else {
            throw DeviceError(.invalidRequest, device: device, message: "another task is already waiting for this interlock",
                              remedy: "wait from one task (the safety monitor) and let others call isClear()")
        }
        let before = level
        // A change that happened since the last look is the change being waited for.
        try refresh()
        if level != before { return level == clearLevel }
        waiting = true
        defer { waiting = false }
        let edges = edges, device = device
        _ = try await BlockingWork.run("interlock \(device)") {
            do { return try edges.waitForEdge(timeout: timeout) } catch { throw DeviceError.from(error, device: device) }
        }
        let edge = try refresh()
        return edge || level != before ? level == clearLevel : nil
    }
}

/// `driver: gpio-interlock`, `address: gpio://chip/line`. Options: `clear-level: high | low` (high).
public struct GPIOInterlockDriver: DriverFactory {
    public let name = "gpio-interlock"
    public let families: [DeviceFamily] = [.interlock]
    public let summary = "laser-safety interlock on a GPIO edge-event input (libgpiod v1)"
    let connector: any InstrumentConnector

    public init(connector: any InstrumentConnector) { self.connector = connector }

    func clearLevel(_ binding: RoleBinding) throws(BenchFileError) -> Bool {
        guard let o = try binding.options(allowed: ["clear-level"]), let l = try o.optional("clear-level") else { return true }
        return try l.level()
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        _ = try binding.gpioLine()
        _ = try clearLevel(binding)
    }

    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] { try binding.gpioOutput("interlock input") }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let binding = context.binding
        let (chipName, offset) = try binding.gpioLine()
        let chip = try await context.gpioChip(chipName, using: connector, device: binding.deviceName)
        return try GPIOInterlock.open(chip: chip, offset: offset, consumer: gpioConsumer(binding.role), device: binding.deviceName,
                                      clearLevel: try clearLevel(binding))
    }
}
