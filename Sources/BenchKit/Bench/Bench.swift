import Foundation

/// An open bench: one device per role, each behind the bench's limit guard.
public final class Bench: Sendable {
    public let description: BenchDescription
    public let limits: LimitGuard
    /// Moves the reference power meter (the twin's own, or the one the caller supplied).
    public let patchPanel: any PatchPanel
    /// Resources shared by the bench's drivers (the twin's optical table lives here).
    public let shared: SharedResources
    let devices: [Role: any BenchDevice]
    let registry: DriverRegistry

    public enum AccessError: Error, CustomStringConvertible {
        case missingRole(Role, bench: String)
        case wrongFamily(Role, expected: String)
        public var description: String {
            switch self {
            case let .missingRole(r, b): "bench '\(b)' has no \(r.rawValue) (\(r.summary)): add it to the bench file"
            case let .wrongFamily(r, e): "\(r.rawValue) is not a \(e)"
            }
        }
    }

    init(description: BenchDescription, limits: LimitGuard, patchPanel: any PatchPanel, shared: SharedResources,
         devices: [Role: any BenchDevice], registry: DriverRegistry) {
        self.description = description; self.limits = limits; self.patchPanel = patchPanel; self.shared = shared
        self.devices = devices; self.registry = registry
    }

    /// The hidden state of every driver that has one, by driver name (empty on a real bench).
    public func checkpoint() async throws -> [String: Data] {
        var out: [String: Data] = [:]
        for name in Set(description.bindings.values.map(\.driver)).sorted() {
            if let f = registry.factories[name], let data = try await f.checkpoint(shared) { out[name] = data }
        }
        return out
    }

    /// The hidden state of the drivers bound to `station`'s roles.
    public func checkpoint(of station: Station) async throws -> [String: Data] {
        var out: [String: Data] = [:]
        let names = Set(description.bindings.filter { $0.key.station == station }.map(\.value.driver))
        for name in names.sorted() {
            if let f = registry.factories[name], let data = try await f.checkpoint(shared) { out[name] = data }
        }
        return out
    }

    /// Restores what `checkpoint()` saved.
    public func restore(_ checkpoint: [String: Data]) async throws {
        for (name, data) in checkpoint.sorted(by: { $0.key < $1.key }) { try await registry.factories[name]?.restore(data, shared) }
    }

    /// Validates the bench against the registry, builds every device through its driver, wraps
    /// the limited families in guards, and reads back the starting values of limited parameters.
    /// - Parameter patchPanel: used when no driver of the bench can move the reference meter
    ///   itself (the CLI passes one that asks the operator).
    public static func open(_ description: BenchDescription, registry: DriverRegistry,
                            patchPanel fallback: (any PatchPanel)? = nil) async throws -> Bench {
        try registry.validate(description)
        let shared = SharedResources()
        let limits = LimitGuard(bench: description, registry: registry)
        var devices: [Role: any BenchDevice] = [:]
        for role in description.roles {
            devices[role] = try await makeDevice(role, of: description, registry: registry, shared: shared, limits: limits)
        }
        var panel: (any PatchPanel)?
        for binding in description.bindings.values.sorted(by: { $0.role < $1.role }) where panel == nil {
            panel = try await registry.factory(for: binding)?.patchPanel(shared)
        }
        let bench = Bench(description: description, limits: limits, patchPanel: panel ?? fallback ?? FixedPatchPanel(),
                          shared: shared, devices: devices, registry: registry)
        try await bench.observeStartingValues()
        return bench
    }

    /// The device of `role` through its driver, checked to be of the role's family and wrapped in
    /// the bench's limit guard.
    static func makeDevice(_ role: Role, of description: BenchDescription, registry: DriverRegistry,
                           shared: SharedResources, limits: LimitGuard) async throws -> any BenchDevice {
        guard let binding = description.bindings[role] else { throw AccessError.missingRole(role, bench: description.name) }
        guard let factory = registry.factory(for: binding) else {
            throw BenchFileError(file: description.file, line: binding.line, message: "\(role.rawValue): no driver '\(binding.driver)' in this qbench")
        }
        let raw = try await factory.makeDevice(DriverContext(bench: description, binding: binding, shared: shared))
        guard raw.family == role.family else { throw AccessError.wrongFamily(role, expected: role.family.rawValue) }
        return guardWrap(raw, role: role, limits: limits)
    }

    static func guardWrap(_ d: any BenchDevice, role: Role, limits: LimitGuard) -> any BenchDevice {
        switch d {
        case let x as any Laser: GuardedLaser(x, role: role, limits: limits)
        case let x as any Modulator: GuardedModulator(x, role: role, limits: limits)
        case let x as any VariableAttenuator: GuardedAttenuator(x, role: role, limits: limits)
        case let x as any OpticalAmplifier: GuardedAmplifier(x, role: role, limits: limits)
        case let x as any TunableSplitter: GuardedSplitter(x, role: role, limits: limits)
        case let x as any HomodyneReceiver: GuardedReceiver(x, role: role, limits: limits)
        case let x as any Shutter: GuardedShutter(x, role: role, limits: limits)
        default: d
        }
    }

    func observeStartingValues() async throws {
        for (role, d) in devices { try await observeStartingValue(of: role, d) }
    }

    func observeStartingValue(of role: Role, _ d: any BenchDevice) async throws {
        switch d {
        case let x as any Laser:
            await limits.observe(role, "current", try await x.current().si)
            await limits.observe(role, "temperature", try await x.temperature().si)
        case let x as any Shutter: await limits.observe(role, "open", try await x.isOpen() ? 1 : 0)
        case let x as any VariableAttenuator: await limits.observe(role, "attenuation", try await x.attenuation().dB)
        case let x as any OpticalAmplifier: await limits.observe(role, "gain", try await x.gain())
        case let x as any TunableSplitter: await limits.observe(role, "kept-fraction", try await x.keptFraction())
        case let x as any HomodyneReceiver: await limits.observe(role, "lo-power", try await x.localOscillatorPower().si)
        default: break
        }
    }

    /// A role's instrument did not come back (`reconnect(_:timeout:)`).
    public struct ReconnectError: Error, CustomStringConvertible, Sendable {
        public let role: Role
        public let address: String
        /// The wait that ran out; nil when the reconnect was refused at once (another instrument
        /// answers there, or the driver cannot reconnect).
        public let timeout: Duration?
        /// The last failure of the device's `reconnect()`.
        public let last: any Error
        public var description: String {
            if let timeout {
                return "\(role.rawValue) at \(address) did not come back within \(timeout) (last: \(last)): check its cable and power; once it answers at that address, open the bench again and resume the run"
            }
            return "\(role.rawValue) at \(address) was not reconnected: \(last)"
        }
    }

    /// Reconnects the instrument of `role` after an unplug or a power cycle: calls the device's
    /// `reconnect()` (which reopens it by address and serial number and restores the session's
    /// settings, never light) with a short back-off until it succeeds or `timeout` has passed,
    /// then reads back the role's starting values for its limit guard. The other roles bound to
    /// the same address (channels of one AWG) lost their settings in the same power cycle, so
    /// they are reconnected too.
    /// - Returns: the identity the instrument reports now.
    /// - Throws: `ReconnectError` naming the role and its address: at the timeout, or at once
    ///   when another instrument answers there or the driver cannot reconnect.
    @discardableResult
    public func reconnect(_ role: Role, timeout: Duration) async throws -> InstrumentIdentity {
        guard let binding = description.bindings[role] else { throw AccessError.missingRole(role, bench: description.name) }
        let address = "\(binding.address)"
        let sharing = [role] + description.bindings.values.filter { $0.address == binding.address && $0.role != role }.map(\.role).sorted()
        let deadline = ContinuousClock.now + timeout
        var pause: Duration = .milliseconds(50)
        var identity: InstrumentIdentity?
        for r in sharing {
            guard let d = devices[r] else { continue }
            while true {
                do {
                    try await d.reconnect()
                    try await observeStartingValue(of: r, d)
                    if r == role { identity = try await d.identify() }
                    break
                } catch let e as DeviceError where [.disconnected, .timeout, .notReady].contains(e.kind) {
                    let left = deadline - ContinuousClock.now
                    guard left > .zero else { throw ReconnectError(role: r, address: address, timeout: timeout, last: e) }
                    try await Task.sleep(for: min(pause, left))
                    pause = min(pause * 2, .seconds(1))
                } catch {
                    throw ReconnectError(role: r, address: address, timeout: nil, last: error)
                }
            }
        }
        guard let identity else { throw AccessError.missingRole(role, bench: description.name) }
        return identity
    }

    public var roles: [Role] { devices.keys.sorted() }
    public func has(_ role: Role) -> Bool { devices[role] != nil }

    public func device(_ role: Role) throws(AccessError) -> any BenchDevice {
        guard let d = devices[role] else { throw .missingRole(role, bench: description.name) }
        return d
    }

    func typed<T>(_ role: Role, _ type: T.Type, _ name: String) throws(AccessError) -> T {
        guard let d = try device(role) as? T else { throw .wrongFamily(role, expected: name) }
        return d
    }

    public func laser(_ role: Role = .serverLaser) throws(AccessError) -> any Laser { try typed(role, (any Laser).self, "laser") }
    public func modulator(_ role: Role = .serverModulator) throws(AccessError) -> any Modulator { try typed(role, (any Modulator).self, "modulator") }
    public func attenuator(_ role: Role = .serverAttenuator) throws(AccessError) -> any VariableAttenuator { try typed(role, (any VariableAttenuator).self, "attenuator") }
    public func powerMeter(_ role: Role = .serverTap) throws(AccessError) -> any PowerMeter { try typed(role, (any PowerMeter).self, "power meter") }
    public func opticalSwitch(_ role: Role = .serverSwitch) throws(AccessError) -> any OpticalSwitch { try typed(role, (any OpticalSwitch).self, "optical switch") }
    public func receiver(_ role: Role) throws(AccessError) -> any HomodyneReceiver { try typed(role, (any HomodyneReceiver).self, "homodyne receiver") }
    public func fiberLink(_ role: Role = .link) throws(AccessError) -> any FiberLink { try typed(role, (any FiberLink).self, "fibre link") }
    public func clientProcessor(_ role: Role = .clientProcessor) throws(AccessError) -> any ClientProcessor { try typed(role, (any ClientProcessor).self, "client processor") }
    public func amplifier(_ role: Role = .clientAmplifier) throws(AccessError) -> any OpticalAmplifier { try typed(role, (any OpticalAmplifier).self, "amplifier") }
    public func splitter(_ role: Role = .clientSplitter) throws(AccessError) -> any TunableSplitter { try typed(role, (any TunableSplitter).self, "splitter") }
    public func trigger(_ role: Role = .trigger) throws(AccessError) -> any TriggerOutput { try typed(role, (any TriggerOutput).self, "trigger") }
    public func shutter(_ role: Role = .shutter) throws(AccessError) -> any Shutter { try typed(role, (any Shutter).self, "shutter") }
    public func interlock(_ role: Role = .interlock) throws(AccessError) -> any InterlockInput { try typed(role, (any InterlockInput).self, "interlock") }

    /// Whether the laser-safety chain of `role` is clear now; true when the bench binds none. Asked
    /// after a burst, whether its light was on to the end (a trip that clears again within one burst
    /// is invisible to this level check; safety chains latch, so a real trip stays open).
    public func interlockIsClear(_ role: Role = .interlock) async throws -> Bool {
        guard has(role) else { return true }
        return try await interlock(role).isClear()
    }

    /// One executed safe-state step.
    public struct SafeStateRecord: Sendable, Codable, Equatable {
        public let step: String
        public let succeeded: Bool
        public let error: String?
        public let at: Date
    }

    /// Runs the bench's safe-state sequence in its declared order. Never throws: every step is
    /// attempted even if an earlier one failed, and each outcome is returned (and journaled by the
    /// caller through `onStep`).
    /// With `station`, only the steps of that station's roles (each station makes its own
    /// instruments safe).
    @discardableResult
    public func enterSafeState(of station: Station? = nil, onStep: (SafeStateRecord) -> Void = { _ in }) async -> [SafeStateRecord] {
        var records: [SafeStateRecord] = []
        for step in description.safeState where station == nil || step.role.station == station {
            var failure: String?
            do {
                let d = try device(step.role)
                switch step.action {
                case .rampDown:
                    guard let laser = d as? any Laser else { throw AccessError.wrongFamily(step.role, expected: "laser") }
                    try await laser.rampDown()
                case .close:
                    guard let shutter = d as? any Shutter else { throw AccessError.wrongFamily(step.role, expected: "shutter") }
                    try await shutter.setOpen(false)
                case .zeroDrive:
                    guard let m = d as? any Modulator else { throw AccessError.wrongFamily(step.role, expected: "modulator") }
                    try await m.zeroDrive()
                case .safe:
                    try await d.makeSafe()
                }
            } catch {
                failure = "\(error)"
            }
            let r = SafeStateRecord(step: step.description, succeeded: failure == nil, error: failure, at: Date())
            records.append(r)
            onStep(r)
        }
        return records
    }

    /// Identity and settings of every device: the bench snapshot of a run record.
    public struct Snapshot: Sendable, Codable, Equatable {
        public struct Entry: Sendable, Codable, Equatable {
            public let role: String
            public let driver: String
            public let address: String
            public let identity: InstrumentIdentity?
            public let settings: [String: String]
            public let error: String?
        }
        public let bench: String
        public let file: String
        public let entries: [Entry]
        public let benchFile: String
    }

    /// With `station`, only that station's roles.
    public func snapshot(of station: Station? = nil) async -> Snapshot {
        var entries: [Snapshot.Entry] = []
        for role in roles where station == nil || role.station == station {
            let b = description.bindings[role]!
            let d = devices[role]!
            do {
                entries.append(.init(role: role.rawValue, driver: b.driver, address: "\(b.address)",
                                     identity: try await d.identify(), settings: try await d.settings(), error: nil))
            } catch {
                entries.append(.init(role: role.rawValue, driver: b.driver, address: "\(b.address)", identity: nil, settings: [:], error: "\(error)"))
            }
        }
        return Snapshot(bench: description.name, file: description.file, entries: entries, benchFile: description.text)
    }
}
