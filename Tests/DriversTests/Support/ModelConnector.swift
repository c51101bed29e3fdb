import BenchIO
import BenchKit
import Drivers
import InstrumentModels

/// A connector that opens, for each bench address, the simulated instrument registered for it:
/// the registry, `Bench.open`, shared links and every driver run against the SCPI models, without a
/// bus (the bus tests do the same through libusb and umockdev). It has no GPIO chips.
struct ModelConnector: InstrumentConnector {
    let instruments: [DeviceAddress: any SCPIMessageDevice]

    func openMessageTransport(_ address: DeviceAddress) async throws -> any MessageTransport {
        guard let device = instruments[address] else {
            throw TransportError.connectionFailed(resource: "\(address)", detail: "no simulated instrument at this address")
        }
        return SimulatedTransport(device: device, resourceName: "\(address)")
    }

    func openGPIOChip(_ chip: String) throws -> GPIOChip {
        throw GPIOError.chipNotFound(chip, available: [])
    }
}
