import BenchKit

/// In-memory devices that record every call that reaches them: a request refused by a limit must
/// never appear here.
actor CallLog {
    private(set) var calls: [String] = []
    func add(_ s: String) { calls.append(s) }
}

actor RecordingLaser: Laser {
    nonisolated var family: DeviceFamily { .laser }
    let log: CallLog
    var i = Current.zero, on = false, t = Temperature.celsius(25)
    init(log: CallLog) { self.log = log }
    func identify() async throws -> InstrumentIdentity { .init(manufacturer: "Test", model: "Laser", serial: "1", firmware: "0") }
    func makeSafe() async throws { i = .zero; on = false; await log.add("laser.makeSafe") }
    func settings() async throws -> [String: String] { ["current": "\(i)"] }
    func setCurrent(_ c: Current) async throws { i = c; await log.add("laser.current=\(c.milliamperes)") }
    func current() async throws -> Current { i }
    func setEmission(_ v: Bool) async throws { on = v; await log.add("laser.emission=\(v)") }
    func isEmitting() async throws -> Bool { on }
    func wavelength() async throws -> Length { .nanometres(1550) }
    func setTemperature(_ s: Temperature) async throws { t = s; await log.add("laser.temperature") }
    func temperature() async throws -> Temperature { t }
}

actor RecordingShutter: Shutter {
    nonisolated var family: DeviceFamily { .shutter }
    let log: CallLog
    var open = false
    init(log: CallLog) { self.log = log }
    func identify() async throws -> InstrumentIdentity { .init(manufacturer: "Test", model: "Shutter", serial: "2", firmware: "0") }
    func makeSafe() async throws { open = false; await log.add("shutter.makeSafe") }
    func settings() async throws -> [String: String] { ["open": "\(open)"] }
    func setOpen(_ v: Bool) async throws { open = v; await log.add("shutter.open=\(v)") }
    func isOpen() async throws -> Bool { open }
}

actor RecordingModulator: Modulator {
    nonisolated var family: DeviceFamily { .modulator }
    let log: CallLog
    var biases: [ModulatorChannel: Voltage] = [:]
    var failNext = false
    init(log: CallLog) { self.log = log }
    func identify() async throws -> InstrumentIdentity { .init(manufacturer: "Test", model: "IQ", serial: "3", firmware: "0") }
    func makeSafe() async throws { await log.add("modulator.makeSafe") }
    func settings() async throws -> [String: String] { [:] }
    func loadDrive(i: Waveform, q: Waveform) async throws { await log.add("modulator.load \(i.volts.count)") }
    func setStaticDrive(i: Voltage, q: Voltage) async throws { await log.add("modulator.static") }
    func setBias(_ c: ModulatorChannel, _ v: Voltage) async throws {
        if failNext { failNext = false; throw DeviceError(.instrumentError, device: "test modulator", message: "-222 data out of range", remedy: "check the request") }
        biases[c] = v; await log.add("modulator.bias.\(c.rawValue)=\(v.volts)")
    }
    func bias(_ c: ModulatorChannel) async throws -> Voltage { biases[c] ?? .zero }
    func zeroDrive() async throws { await log.add("modulator.zero") }
    func failNextCall() { failNext = true }
}

actor RecordingAttenuator: VariableAttenuator {
    nonisolated var family: DeviceFamily { .attenuator }
    let log: CallLog
    var a = Decibels(40)
    init(log: CallLog) { self.log = log }
    func identify() async throws -> InstrumentIdentity { .init(manufacturer: "Test", model: "VOA", serial: "4", firmware: "0") }
    func makeSafe() async throws { await log.add("voa.makeSafe") }
    func settings() async throws -> [String: String] { ["attenuation": "\(a)"] }
    func setAttenuation(_ x: Decibels) async throws { a = x; await log.add("voa=\(x.dB)") }
    func attenuation() async throws -> Decibels { a }
}

/// A driver named "recording" that serves lasers, shutters, modulators and attenuators, with a
/// hardware current limit of 200 mA.
struct RecordingDriver: DriverFactory {
    let log: CallLog
    var name: String { "recording" }
    var summary: String { "in-memory test devices" }
    var families: [DeviceFamily] { [.laser, .shutter, .modulator, .attenuator] }
    func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] {
        family == .laser ? ["current": LimitRange(min: 0, max: 0.2, source: "RecordingLaser datasheet")] : [:]
    }
    func validate(_ binding: RoleBinding) throws(BenchFileError) {}
    func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        switch context.binding.role.family {
        case .laser: RecordingLaser(log: log)
        case .shutter: RecordingShutter(log: log)
        case .modulator: RecordingModulator(log: log)
        default: RecordingAttenuator(log: log)
        }
    }
}
