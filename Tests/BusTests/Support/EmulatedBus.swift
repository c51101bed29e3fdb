import BenchIO
import BenchMockHW
import Foundation
import InstrumentModels
import Testing

/// Requires the umockdev preload; fails (never skips) with instructions otherwise.
func requireUmockdevPreload() throws {
    let preload = ProcessInfo.processInfo.environment["LD_PRELOAD"] ?? ""
    try #require(preload.contains("umockdev-preload"),
                 """
                 The bus tests need umockdev's preload library (LD_PRELOAD is "\(preload)"). Run them with
                   bash scripts/test.sh
                 or
                   LD_PRELOAD=libumockdev-preload.so.0 swift test --skip-build --filter BusTests
                 (packages umockdev and libumockdev-dev; scripts/bootstrap.sh installs them).
                 """)
}

/// The C callbacks of the emulated USBTMC device, forwarding to a Swift `SCPIMessageDevice`.
/// They run on umockdev's worker thread; `SimulatedSCPIDevice` is lock-protected.
final class DeviceBridge: Sendable {
    let device: any SCPIMessageDevice
    init(device: any SCPIMessageDevice) { self.device = device }

    static func from(_ context: UnsafeMutableRawPointer?) -> DeviceBridge {
        Unmanaged<DeviceBridge>.fromOpaque(context!).takeUnretainedValue()
    }

    func callbacks() -> bm_usbtmc_callbacks {
        var c = bm_usbtmc_callbacks()
        c.context = Unmanaged.passUnretained(self).toOpaque()
        c.message = { context, bytes, length in
            let buffer = UnsafeBufferPointer(start: bytes, count: length)
            DeviceBridge.from(context).device.receive(Array(buffer))
        }
        c.read_response = { context, buffer, capacity, endOfMessage in
            guard let chunk = DeviceBridge.from(context).device.readResponse(maxLength: capacity) else { return -1 }
            chunk.bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress, let buffer { buffer.update(from: base, count: source.count) }
            }
            endOfMessage?.pointee = chunk.isEndOfMessage ? 1 : 0
            return chunk.bytes.count
        }
        c.status_byte = { context in DeviceBridge.from(context).device.statusByte }
        c.service_request = { context, statusByte in
            guard let stb = DeviceBridge.from(context).device.takeServiceRequest() else { return 0 }
            statusByte?.pointee = stb
            return 1
        }
        c.device_clear = { context in DeviceBridge.from(context).device.deviceClear() }
        c.abort_response = { context in DeviceBridge.from(context).device.abortResponse() }
        c.trigger = { context in DeviceBridge.from(context).device.trigger() }
        return c
    }
}

/// An emulated USBTMC instrument: its SCPI model (the same one the unit tests use) and the C
/// device that serves it to libusb.
struct EmulatedInstrument<Model: SCPIInstrumentModel>: @unchecked Sendable {
    let device: SimulatedSCPIDevice<Model>
    let handle: OpaquePointer   // bm_usbtmc_device*, owned by the testbed
    let serialNumber: String

    var stats: bm_usbtmc_stats { bm_usbtmc_get_stats(handle) }
    func holdResponses(_ hold: Bool) { bm_usbtmc_set_hold_responses(handle, hold ? 1 : 0) }
    func halt(endpoint: UInt8) { bm_usbtmc_halt_endpoint(handle, endpoint) }
    func unplug() { bm_usbtmc_set_gone(handle, 1) }
    /// Pulls the cable: gone and out of the emulated sysfs (a libusb context may still list it,
    /// without a readable serial number).
    func remove() { bm_usbtmc_remove(handle) }
    func setMaxTransferSize(_ size: UInt32) { bm_usbtmc_set_max_transfer_size(handle, size) }
    func isHalted(_ endpoint: UInt8) -> Bool { bm_usbtmc_endpoint_halted(handle, endpoint) != 0 }
    var kernelDriverBound: Bool { bm_usbtmc_kernel_driver_bound(handle) != 0 }
}

/// An emulated GPIO chip.
struct EmulatedGPIOChip: @unchecked Sendable {
    let handle: OpaquePointer   // bm_gpiochip*
    let name: String

    func hold(offset: UInt32, consumer: String) -> Bool { bm_gpiochip_hold_line(handle, offset, consumer) == 0 }
    @discardableResult
    func injectEdge(offset: UInt32, rising: Bool, timestampNanoseconds: UInt64 = 0) -> Bool {
        bm_gpiochip_inject_edge(handle, offset, rising ? 1 : 0, timestampNanoseconds) == 0
    }
    func value(offset: UInt32) -> Int { Int(bm_gpiochip_value(handle, offset)) }
    /// The level an input line reads (no edge event).
    @discardableResult
    func setInput(offset: UInt32, high: Bool) -> Bool { bm_gpiochip_set_input(handle, offset, high ? 1 : 0) == 0 }
    /// Changes the level of a line requested for edge events without queuing the edge (the
    /// kernel's FIFO dropped it). False when no edge-event request is active on the line.
    @discardableResult
    func setLevelSilently(offset: UInt32, high: Bool) -> Bool { bm_gpiochip_set_level_silently(handle, offset, high ? 1 : 0) == 0 }
    func history(offset: UInt32) -> [bm_gpio_change] {
        let count = bm_gpiochip_history(handle, offset, nil, 0)
        var changes = [bm_gpio_change](repeating: bm_gpio_change(), count: count)
        _ = changes.withUnsafeMutableBufferPointer { bm_gpiochip_history(handle, offset, $0.baseAddress, count) }
        return changes
    }
    func consumer(offset: UInt32) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        let used = bm_gpiochip_line_requested(handle, offset, &buffer, buffer.count)
        guard used != 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One umockdev testbed with emulated instruments and chips. Create it first, then the
/// libusb context / gpiod chips; drop those before the testbed goes (`withEmulatedBus` does it).
final class EmulatedBus: @unchecked Sendable {
    private let testbed: OpaquePointer
    private var bridges: [DeviceBridge] = []

    init() throws {
        try requireUmockdevPreload()
        var error = [CChar](repeating: 0, count: 512)
        let created = bm_testbed_new(&error, error.count)
        testbed = try #require(created, "bm_testbed_new failed: \(cText(error))")
    }

    deinit { bm_testbed_free(testbed) }

    func addInstrument(serialNumber: String, bus: UInt8, productID: UInt16 = 0x8072, maxPacketSize: UInt16 = 512,
                       interruptIn: Bool = true, kernelDriverBound: Bool = false, interfaceBusy: Bool = false,
                       model: GenericPowerMeterModel? = nil) throws -> EmulatedInstrument<GenericPowerMeterModel> {
        try addInstrument(model ?? GenericPowerMeterModel(manufacturer: "Thorlabs", model: "PM100USB", serialNumber: serialNumber, firmware: "1.7.0"),
                          vendorID: 0x1313, productID: productID, manufacturer: "Thorlabs", product: "PM100USB", serialNumber: serialNumber,
                          bus: bus, maxPacketSize: maxPacketSize, interruptIn: interruptIn, kernelDriverBound: kernelDriverBound,
                          interfaceBusy: interfaceBusy)
    }

    /// An instrument answering with `model`, enumerating as `vendorID:productID` with these strings.
    func addInstrument<Model: SCPIInstrumentModel>(_ model: Model, vendorID: UInt16, productID: UInt16, manufacturer: String, product: String,
                                                   serialNumber: String, bus: UInt8, maxPacketSize: UInt16 = 512, interruptIn: Bool = true,
                                                   kernelDriverBound: Bool = false, interfaceBusy: Bool = false) throws -> EmulatedInstrument<Model> {
        let device = SimulatedSCPIDevice(model: model)
        let bridge = DeviceBridge(device: device)
        bridges.append(bridge)
        var callbacks = bridge.callbacks()
        var error = [CChar](repeating: 0, count: 512)
        let handle: OpaquePointer? = manufacturer.withCString { manufacturer in
            product.withCString { product in
                serialNumber.withCString { serial in
                    var config = bm_usbtmc_config(
                        vendor_id: vendorID, product_id: productID, manufacturer: manufacturer, product: product,
                        serial_number: serial, bus_number: bus, interface_protocol: 1, max_packet_size: maxPacketSize,
                        max_transfer_size: 0, has_interrupt_in: interruptIn ? 1 : 0,
                        kernel_driver_bound: kernelDriverBound ? 1 : 0, interface_busy: interfaceBusy ? 1 : 0)
                    return bm_usbtmc_add(testbed, &config, &callbacks, &error, error.count)
                }
            }
        }
        let emulatedHandle = try #require(handle, "bm_usbtmc_add failed: \(cText(error))")
        return EmulatedInstrument(device: device, handle: emulatedHandle, serialNumber: serialNumber)
    }

    func addGPIOChip(name: String = "gpiochip0", label: String = "bench-gpio", lines: UInt32 = 8) throws -> EmulatedGPIOChip {
        var error = [CChar](repeating: 0, count: 512)
        let handle = try #require(bm_gpiochip_add(testbed, name, label, lines, &error, error.count),
                                  "bm_gpiochip_add failed: \(cText(error))")
        return EmulatedGPIOChip(handle: handle, name: name)
    }
}

/// Short timeouts: the emulated device fd always polls ready, so libusb spins while it waits
/// (docs/hardware.md §5.4).
func emulatedConfiguration() -> USBTMCInstrument.Configuration {
    var configuration = USBTMCInstrument.Configuration()
    configuration.timeout = .milliseconds(200)
    configuration.controlTimeout = .milliseconds(100)
    configuration.pollInterval = .milliseconds(5)
    configuration.maxRecoverySteps = 20
    return configuration
}

/// Text of a NUL-terminated C buffer.
func cText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Runs `body` with a fresh testbed and tears the testbed down only after `body` has returned,
/// i.e. after every libusb context and gpiod chip made inside it is gone.
func withEmulatedBus(_ body: (EmulatedBus) async throws -> Void) async throws {
    let bus = try EmulatedBus()
    try await body(bus)
    withExtendedLifetime(bus) {}
}

func withEmulatedBus(_ body: (EmulatedBus) throws -> Void) throws {
    let bus = try EmulatedBus()
    try body(bus)
    withExtendedLifetime(bus) {}
}
