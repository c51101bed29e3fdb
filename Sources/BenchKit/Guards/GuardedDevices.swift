/// Wrappers that put a bench's `LimitGuard` in front of a driver: a request beyond a limit is
/// refused here, before the driver (and so the instrument) sees it. The bench hands out only these.

public actor GuardedLaser: Laser {
    let inner: any Laser, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .laser }
    public init(_ inner: any Laser, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "current", try await inner.current().si) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setCurrent(_ c: Current) async throws {
        try await guarded(limits, role, "current", c.si) { try await inner.setCurrent(c) }
    }
    public func current() async throws -> Current { try await inner.current() }
    public func setEmission(_ on: Bool) async throws { try await inner.setEmission(on) }
    public func isEmitting() async throws -> Bool { try await inner.isEmitting() }
    public func wavelength() async throws -> Length { try await inner.wavelength() }
    public func setTemperature(_ t: Temperature) async throws {
        try await guarded(limits, role, "temperature", t.si) { try await inner.setTemperature(t) }
    }
    public func temperature() async throws -> Temperature { try await inner.temperature() }
}

public actor GuardedModulator: Modulator {
    let inner: any Modulator, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .modulator }
    public init(_ inner: any Modulator, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "drive", 0) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func loadDrive(i: Waveform, q: Waveform) async throws {
        let ri = i.range, rq = q.range
        // A NaN range (a sample that is not a number) must reach the check: min and max would drop it.
        let unordered = ri.minimum.si.isNaN || rq.minimum.si.isNaN
        try await limits.admit(role, "drive", unordered ? .nan : min(ri.minimum.si, rq.minimum.si))
        let peak = max(ri.maximum.si, rq.maximum.si)
        try await guarded(limits, role, "drive", peak) { try await inner.loadDrive(i: i, q: q) }
    }
    public func setStaticDrive(i: Voltage, q: Voltage) async throws {
        try await limits.admit(role, "drive", min(i.si, q.si))
        try await guarded(limits, role, "drive", max(i.si, q.si)) { try await inner.setStaticDrive(i: i, q: q) }
    }
    public func setBias(_ channel: ModulatorChannel, _ v: Voltage) async throws {
        try await guarded(limits, role, "bias", v.si) { try await inner.setBias(channel, v) }
    }
    public func bias(_ channel: ModulatorChannel) async throws -> Voltage { try await inner.bias(channel) }
    public func zeroDrive() async throws { try await inner.zeroDrive(); await limits.observe(role, "drive", 0) }
}

public actor GuardedAttenuator: VariableAttenuator {
    let inner: any VariableAttenuator, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .attenuator }
    public init(_ inner: any VariableAttenuator, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "attenuation", try await inner.attenuation().dB) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setAttenuation(_ a: Decibels) async throws {
        try await guarded(limits, role, "attenuation", a.dB) { try await inner.setAttenuation(a) }
    }
    public func attenuation() async throws -> Decibels { try await inner.attenuation() }
}

public actor GuardedAmplifier: OpticalAmplifier {
    let inner: any OpticalAmplifier, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .amplifier }
    public init(_ inner: any OpticalAmplifier, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "gain", try await inner.gain()) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setGain(_ g: Double) async throws {
        try await guarded(limits, role, "gain", g) { try await inner.setGain(g) }
    }
    public func gain() async throws -> Double { try await inner.gain() }
}

public actor GuardedSplitter: TunableSplitter {
    let inner: any TunableSplitter, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .splitter }
    public init(_ inner: any TunableSplitter, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "kept-fraction", try await inner.keptFraction()) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setKeptFraction(_ f: Double) async throws {
        try await guarded(limits, role, "kept-fraction", f) { try await inner.setKeptFraction(f) }
    }
    public func keptFraction() async throws -> Double { try await inner.keptFraction() }
}

public actor GuardedReceiver: HomodyneReceiver {
    let inner: any HomodyneReceiver, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .homodyneReceiver }
    public init(_ inner: any HomodyneReceiver, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "lo-power", try await inner.localOscillatorPower().si) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setLocalOscillatorPower(_ p: Power) async throws {
        try await guarded(limits, role, "lo-power", p.si) { try await inner.setLocalOscillatorPower(p) }
    }
    public func localOscillatorPower() async throws -> Power { try await inner.localOscillatorPower() }
    public func setLocalOscillatorPhase(_ phase: Phase) async throws { try await inner.setLocalOscillatorPhase(phase) }
    public func loadSlotPattern(_ pattern: [SlotKind]) async throws { try await inner.loadSlotPattern(pattern) }
    public func setInputBlocked(_ blocked: Bool) async throws { try await inner.setInputBlocked(blocked) }
    public func arm(shots: Int) async throws { try await inner.arm(shots: shots) }
    public func fetch(timeout: Duration) async throws -> SampleBlock { try await inner.fetch(timeout: timeout) }
    public func fetch(timeout: Duration, shots: Int, slotsPerShot: Int, into sink: any SampleSink) async throws -> StreamedRecord {
        try await inner.fetch(timeout: timeout, shots: shots, slotsPerShot: slotsPerShot, into: sink)
    }
    public func acquire(count: Int) async throws -> SampleBlock { try await inner.acquire(count: count) }
}

public actor GuardedShutter: Shutter {
    let inner: any Shutter, role: Role, limits: LimitGuard
    public nonisolated var family: DeviceFamily { .shutter }
    public init(_ inner: any Shutter, role: Role, limits: LimitGuard) { self.inner = inner; self.role = role; self.limits = limits }
    public func identify() async throws -> InstrumentIdentity { try await inner.identify() }
    public func makeSafe() async throws { try await inner.makeSafe(); await limits.observe(role, "open", 0) }
    public func settings() async throws -> [String: String] { try await inner.settings() }
    public func reconnect() async throws { try await inner.reconnect() }
    public func setOpen(_ open: Bool) async throws {
        try await guarded(limits, role, "open", open ? 1 : 0) { try await inner.setOpen(open) }
    }
    public func isOpen() async throws -> Bool { try await inner.isOpen() }
}
