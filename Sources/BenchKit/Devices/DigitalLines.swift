/// The bench trigger (a GPIO output line): one pulse starts one shot on every armed device.
public protocol TriggerOutput: BenchDevice {
    func fire(shots: Int) async throws
}

/// A shutter on the server's output.
public protocol Shutter: BenchDevice {
    func setOpen(_ open: Bool) async throws
    func isOpen() async throws -> Bool
}

/// An interlock input line (door switch, laser-safety chain). `clear` means safe to emit.
public protocol InterlockInput: BenchDevice {
    func isClear() async throws -> Bool
    /// Waits for the line to change; returns the new state, or nil on timeout.
    func waitForChange(timeout: Duration) async throws -> Bool?
}
