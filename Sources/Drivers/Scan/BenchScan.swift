import BenchIO
import BenchKit
import Foundation

/// What `qbench scan` found: USBTMC instruments (with `*IDN?` and the driver that matches),
/// GPIO chips, and a bench-file snippet binding them.
public struct ScanReport: Sendable, Codable, Equatable {
    public struct USBInstrument: Sendable, Codable, Equatable {
        /// "1313:8072"
        public var id: String
        public var serial: String?
        public var bus: Int
        public var device: Int
        public var manufacturer: String?
        public var product: String?
        /// The `*IDN?` reply, when the instrument answered.
        public var idn: String?
        /// Why there is no `*IDN?` (permissions, busy, no answer).
        public var problem: String?
        /// The driver whose instrument file matches (VID:PID or `*IDN?` model), if any.
        public var driver: String?
        /// The bench-file address.
        public var address: String
        public var visa: String
    }

    public struct GPIOLine: Sendable, Codable, Equatable {
        public var offset: Int
        public var name: String?
        public var consumer: String?
        public var used: Bool
    }

    public struct GPIOChipInfo: Sendable, Codable, Equatable {
        public var name: String
        public var label: String
        public var lines: Int
        public var lineInfo: [GPIOLine]
        public var drivers: [String]
        public var problem: String?
    }

    public var usb: [USBInstrument]
    /// Why USB could not be scanned at all (no libusb context).
    public var usbProblem: String?
    public var gpio: [GPIOChipInfo]
    public var snippet: String
}

/// The scan behind `qbench scan`, in the library so bus tests run it against emulated devices.
public enum BenchScan {
    public static let gpioDrivers = ["gpio-trigger", "gpio-shutter", "gpio-interlock"]

    /// Scans the USB bus through `context` (nil: skip USB, reporting `usbProblem`) and the GPIO
    /// chips under /dev, asks every USBTMC instrument `*IDN?` (within `timeout`), matches each to a
    /// driver of `descriptions`, and writes the snippet.
    public static func run(context: USBContext?, usbProblem: String? = nil, descriptions: [InstrumentDescription],
                           timeout: Duration = .seconds(2)) async -> ScanReport {
        var usb: [ScanReport.USBInstrument] = []
        var problem = usbProblem
        if let context {
            do {
                for info in try context.usbtmcDevices().sorted(by: { ($0.busNumber, $0.deviceAddress) < ($1.busNumber, $1.deviceAddress) }) {
                    usb.append(await probe(info, context: context, descriptions: descriptions, timeout: timeout))
                }
            } catch {
                problem = "\(error)"
            }
        }
        let gpio = GPIOChip.availableChipNames().map(chipInfo)
        var report = ScanReport(usb: usb, usbProblem: problem, gpio: gpio, snippet: "")
        report.snippet = snippet(report)
        return report
    }

    /// Scans with a libusb context of its own (a machine without USB access reports why).
    public static func run(descriptions: [InstrumentDescription], timeout: Duration = .seconds(2)) async -> ScanReport {
        do {
            let context = try USBContext()
            return await run(context: context, descriptions: descriptions, timeout: timeout)
        } catch {
            return await run(context: nil, usbProblem: "\(error)", descriptions: descriptions, timeout: timeout)
        }
    }

    static func probe(_ info: USBTMCDeviceInfo, context: USBContext, descriptions: [InstrumentDescription], timeout: Duration) async -> ScanReport.USBInstrument {
        let address = DeviceAddress.usbtmc(vendor: info.id.vendorID, product: info.id.productID, serial: info.serialNumber)
        var entry = ScanReport.USBInstrument(id: "\(info.id)", serial: info.serialNumber, bus: Int(info.busNumber), device: Int(info.deviceAddress),
                                             manufacturer: info.manufacturer, product: info.product, idn: nil, problem: info.unreadableReason,
                                             driver: nil, address: "\(address)", visa: info.visaResource)
        var identity: SCPIIdentity?
        // Scan without disturbing (docs/hardware.md §1.8): no device clear (it would abort another
        // program's pending I/O), no REN_CONTROL (it would change the front panel's remote
        // state), no kernel-driver detach (it would break users of /dev/usbtmcN); an interface
        // someone else holds is reported busy.
        var configuration = USBTMCInstrument.Configuration()
        configuration.controlTimeout = .seconds(5)
        configuration.timeout = timeout
        configuration.clearOnOpen = false
        configuration.remoteEnableOnOpen = false
        do {
            let instrument = try await USBTMCInstrument.open(
                USBTMCDeviceMatch(vendorID: info.id.vendorID, productID: info.id.productID, serialNumber: info.serialNumber,
                                  interfaceNumber: info.interface.number),
                context: context, configuration: configuration, detachKernelDriver: false)
            var options = SCPISession.Options()
            options.timeout = timeout
            options.explainQueryTimeouts = false
            identity = try await SCPISession(transport: instrument, options: options).identify()
            await instrument.close()
            entry.idn = identity?.description
        } catch {
            if case .usb(.busy) = error as? TransportError {
                entry.problem = "busy: another program or the usbtmc kernel driver is using it; scan left it alone (no *IDN?, no device clear)"
            } else {
                entry.problem = "\(error)"
            }
        }
        entry.driver = descriptions.first { $0.matches(info.id, identity: identity) }?.model
        return entry
    }

    static func chipInfo(_ name: String) -> ScanReport.GPIOChipInfo {
        do {
            let chip = try GPIOChip.open(name: name)
            var lines: [ScanReport.GPIOLine] = []
            for offset in 0..<chip.lineCount {
                let l = try chip.lineInfo(offset: offset)
                lines.append(.init(offset: offset, name: l.name, consumer: l.isUsed ? l.consumer : nil, used: l.isUsed))
            }
            return .init(name: chip.name, label: chip.label, lines: chip.lineCount, lineInfo: lines, drivers: gpioDrivers, problem: nil)
        } catch {
            return .init(name: name, label: "", lines: 0, lineInfo: [], drivers: gpioDrivers, problem: "\(error)")
        }
    }

    // MARK: - Snippet

    /// Roles for what was found, in the bench-file format; it validates against the catalog
    /// as it is, and says in comments what to check or edit.
    public static func snippet(_ report: ScanReport) -> String {
        var out = ["# qbench scan: roles for the instruments found. Check the wiring and the values marked EDIT,",
                   "# add limits and the remaining roles (Devices/benches/fiber-testbed.yaml, docs/real-bench.md).",
                   "roles:"]
        func all(_ driver: String) -> [ScanReport.USBInstrument] { report.usb.filter { $0.driver == driver } }
        func idn(_ i: ScanReport.USBInstrument) -> String { i.idn.map { " (\($0))" } ?? "" }
        var extra: [String] = []

        func head(_ role: String, _ comment: String) -> String {
            let h = "  \(role):"
            return h + String(repeating: " ", count: max(1, 36 - h.count)) + "# " + comment
        }

        let lasers = all("thorlabs-cld1015")
        if let laser = lasers.first {
            out += [head("server.laser", "\(laser.id)\(idn(laser))"), "    driver: thorlabs-cld1015", "    address: \(laser.address)",
                    "    options:", "      wavelength: 1550 nm           # EDIT: the diode's wavelength"]
        }
        let meters = all("thorlabs-pm100usb")
        if let meter = meters.first {
            out += [head("server.tap", "\(meter.id)\(idn(meter))"), "    driver: thorlabs-pm100usb", "    address: \(meter.address)",
                    "    options:", "      wavelength: 1550 nm"]
        }
        let awgs = all("keysight-33500b")
        if let awg = awgs.first {
            out += [head("server.modulator", "\(awg.id)\(idn(awg))"), "    driver: keysight-33500b", "    address: \(awg.address)",
                    "    options:", "      i: {channel: 1, load: 50 Ω}   # EDIT: the channels wired to the I and Q RF inputs",
                    "      q: {channel: 2, load: 50 Ω}"]
            if awgs.count > 1 { out.append("      phase: {awg: \"\(awgs[1].address)\", channel: 1, load: high-z}") }
        }
        let scopes = all("keysight-infiniivision")
        for (scope, role) in zip(scopes, ["server.receiver", "client.receiver"]) {
            out += [head(role, "\(scope.id)\(idn(scope))"), "    driver: keysight-infiniivision", "    address: \(scope.address)", "    options:",
                    "      channel: 1                    # EDIT: the detector's difference output",
                    "      symbol-rate: 10 MBd           # EDIT: the mode-slot rate",
                    "      slots-per-shot: 313600        # EDIT: slots recorded per trigger"]
            if role == "server.receiver", meters.count > 1 {
                out.append("      lo-power: {meter: \"\(meters[1].address)\", tap-fraction: 0.01}   # EDIT: the LO tap's ratio")
            } else {
                out.append("      lo-power: {fixed: 1 mW}       # EDIT: the measured LO power")
            }
            if role == "server.receiver", awgs.count > 1 {
                out.append("      lo-phase: {awg: \"\(awgs[1].address)\", channel: 2, v-pi: 3.5 V}   # EDIT: the LO phase modulator's Vπ")
            }
            if role == "server.receiver", awgs.count > 2 {
                out.append("      vacuum-gate: {awg: \"\(awgs[2].address)\", channel: 1, blocked: 5 V, open: 0 V}   # EDIT: the gate levels")
            }
        }
        for m in meters.dropFirst(scopes.isEmpty ? 1 : 2) { extra.append("# another PM100USB: \(m.address)") }
        for a in awgs.dropFirst(scopes.isEmpty ? 2 : 3) { extra.append("# another 33500B: \(a.address)") }
        for s in scopes.dropFirst(2) { extra.append("# another InfiniiVision: \(s.address)") }
        for l in lasers.dropFirst() { extra.append("# another CLD1015: \(l.address)") }
        for i in report.usb where i.driver == nil {
            extra.append("# \(i.id) serial \(i.serial ?? "?")\(idn(i)): no driver in this repository")
        }

        if let chip = report.gpio.first(where: { $0.problem == nil }) {
            let free = chip.lineInfo.filter { !$0.used }.map(\.offset)
            let roles = [("trigger", "gpio-trigger", "pulse-width: 10 µs, period: 40 ms"), ("shutter", "gpio-shutter", "open-level: high"),
                         ("interlock", "gpio-interlock", "clear-level: high")]
            for ((role, driver, options), line) in zip(roles, free) {
                out += [head(role, "EDIT: the line it is wired to on \(chip.name) (\"\(chip.label)\")"),
                        "    driver: \(driver)", "    address: gpio://\(chip.name)/\(line)", "    options: {\(options)}"]
            }
        }
        if out.count == 3 { out.append("  {}") }
        return (out + extra).joined(separator: "\n") + "\n"
    }

    /// The report as text for a terminal.
    public static func text(_ report: ScanReport) -> String {
        var out = ["USBTMC instruments (libusb, interface class FE/03):"]
        if let p = report.usbProblem { out.append("  cannot scan USB: \(p)") }
        if report.usb.isEmpty && report.usbProblem == nil { out.append("  none found (see docs/real-bench.md: udev rule, cable, power)") }
        for i in report.usb {
            out.append("  \(i.id)  serial \(i.serial ?? "?")  bus \(i.bus) device \(i.device)  \(i.idn ?? "no *IDN?")  → \(i.driver ?? "no driver")")
            out.append("      \(i.address)   \(i.visa)")
            if let p = i.problem { out.append("      problem: \(p)") }
        }
        out.append("GPIO chips:")
        if report.gpio.isEmpty { out.append("  none found under /dev (see docs/real-bench.md: gpio group)") }
        for c in report.gpio {
            if let p = c.problem { out.append("  \(c.name): \(p)"); continue }
            let used = c.lineInfo.filter(\.used).map { "\($0.offset) (\($0.consumer ?? "?"))" }
            out.append("  \(c.name)  \"\(c.label)\"  \(c.lines) lines, \(c.lines - used.count) free\(used.isEmpty ? "" : ", used: " + used.joined(separator: ", "))  → \(c.drivers.joined(separator: ", "))")
        }
        out.append("")
        out.append("Bench-file snippet:")
        out.append(report.snippet)
        return out.joined(separator: "\n")
    }
}
