import BenchKit

extension RoleBinding {
    /// The bench file this binding came from, when it can be known. `RoleBinding` carries its
    /// line but not its file; the options reader knows the file.
    var benchFile: String { options?.file ?? "bench file" }

    /// The binding's address, which must be `usbtmc://`.
    func usbtmcAddress() throws(BenchFileError) -> DeviceAddress {
        guard case .usbtmc = address else {
            throw fail(benchFile, "driver \(driver) talks to a USBTMC instrument: write 'address: usbtmc://VID:PID?serial=S' (qbench scan prints it), not \(address)")
        }
        return address
    }

    /// The binding's chip and line, which must be `gpio://chip/line`.
    func gpioLine() throws(BenchFileError) -> (chip: String, line: Int) {
        guard case let .gpio(chip, line) = address else {
            throw fail(benchFile, "driver \(driver) drives a GPIO line: write 'address: gpio://gpiochip0/17' (chip name or label, line offset), not \(address)")
        }
        return (chip, line)
    }

    /// A soft limit of this role, if the bench file declares one.
    func softLimit(_ parameter: String) -> LimitRange? { limits[parameter] }
}

extension YAMLReader {
    /// A `usbtmc://` address in options.
    func usbtmcAddress() throws(BenchFileError) -> DeviceAddress {
        let a = try address()
        guard case .usbtmc = a else { throw fail("expected a usbtmc:// address, not \(a)") }
        return a
    }

    /// A `gpio://` address in options.
    func gpioAddress() throws(BenchFileError) -> (chip: String, line: Int) {
        let a = try address()
        guard case let .gpio(chip, line) = a else { throw fail("expected a gpio://chip/line address, not \(a)") }
        return (chip, line)
    }
}
