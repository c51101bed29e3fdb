import BenchKit
import Foundation

/// Stands in for the simulated backend's `sim` driver (written on another branch) so bench files
/// mixing real and simulated roles can be validated here: it accepts `sim://` addresses for every
/// family and builds nothing.
struct FakeSimDriver: DriverFactory {
    let name = "sim"
    let summary = "test stand-in for the simulated backend"
    let families = DeviceFamily.allCases

    func validate(_ binding: RoleBinding) throws(BenchFileError) {
        guard case .simulated = binding.address else {
            throw BenchFileError(file: "bench", line: binding.line, message: "sim needs a sim:// address")
        }
    }

    func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        throw DeviceError(.notReady, device: context.binding.role.rawValue, message: "the test stand-in builds no devices", remedy: "use the real sim driver")
    }
}

/// The repository root, found from this file.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()
