import BenchKit

extension RoleBinding {
    /// The bench file this binding came from, when it can be known. `RoleBinding` carries its
    /// line but not its file; the options reader knows the file.
    var benchFile: String { options?.file ?? "bench file" }

    /// The binding's address, which must reach a message-based instrument: `usbtmc://` or
    /// `tcpip://` (LAN, docs/hardware.md §2.4).
    func usbtmcAddress() throws(BenchFileError) -> DeviceAddress {
        switch address {
        case .usbtmc, .tcpip, .serial: return address
        default:
            throw fail(benchFile, "driver \(driver) talks to a USBTMC or LAN instrument: write 'address: usbtmc://VID:PID?serial=S' (qbench scan prints it), 'address: tcpip://HOST[:PORT]' or 'address: serial:///dev/ttyUSB0?baud=9600', not \(address)")
        }
    }

    /// The binding's chip and line, which must be `gpio://chip/line`.
    func gpioLine() throws(BenchFileError) -> (chip: String, line: Int) {
        guard case let .gpio(chip, line) = address else {
            throw fail(benchFile, "driver \(driver) drives a GPIO line: write 'address: gpio://gpiochip0/17' (chip name or label, line offset), not \(address)")
        }
        return (chip, line)
    }

    /// The binding's own GPIO line as an output it drives (`DriverFactory.outputs`).
    func gpioOutput(_ use: String) throws(BenchFileError) -> [OutputClaim] {
        let (chip, line) = try gpioLine()
        return [.gpioLine(chip: chip, line: line, use: use, at: self.line)]
    }

    /// A soft limit of this role, if the bench file declares one.
    func softLimit(_ parameter: String) -> LimitRange? { limits[parameter] }
}

extension YAMLReader {
    /// A `usbtmc://` or `tcpip://` address in options.
    func usbtmcAddress() throws(BenchFileError) -> DeviceAddress {
        let a = try address()
        switch a {
        case .usbtmc, .tcpip, .serial: return a
        default: throw fail("expected a usbtmc:// or tcpip:// (or serial://) address, not \(a)")
        }
    }

    /// A `gpio://` address in options.
    func gpioAddress() throws(BenchFileError) -> (chip: String, line: Int) {
        let a = try address()
        guard case let .gpio(chip, line) = a else { throw fail("expected a gpio://chip/line address, not \(a)") }
        return (chip, line)
    }
}

extension OutputClaim {
    /// A GPIO line as an output, named alike wherever a binding or an option names it.
    static func gpioLine(chip: String, line: Int, use: String, at fileLine: Int) -> OutputClaim {
        OutputClaim(output: "GPIO line \(chip)/\(line)", use: use, line: fileLine)
    }
}
