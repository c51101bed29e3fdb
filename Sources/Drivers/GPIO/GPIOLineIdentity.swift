import BenchIO
import BenchKit

extension GPIOChip {
    /// What a GPIO-driven device reports as its identity: the chip (label, name) and the line.
    func identity(line offset: Int) -> InstrumentIdentity {
        InstrumentIdentity(manufacturer: "Linux GPIO", model: label, serial: "\(name) line \(offset)", firmware: "libgpiod v1 uAPI")
    }
}

/// The consumer label a line is requested with (what `gpioinfo` shows): "qbench <role>".
func gpioConsumer(_ role: Role) -> String { "qbench \(role.rawValue)" }
