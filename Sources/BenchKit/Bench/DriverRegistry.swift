import Foundation

/// What a driver needs to build its device: the bench, its own binding, and resources shared by
/// the devices of one bench (the simulated backend keeps its optical table there).
public struct DriverContext: Sendable {
    public let bench: BenchDescription
    public let binding: RoleBinding
    public let shared: SharedResources
}

/// Objects shared by the devices of one open bench, created on first use.
public actor SharedResources {
    private var objects: [String: any Sendable] = [:]
    public init() {}

    /// The resource under `key` if one was made, without making it.
    public func existing<T: Sendable>(_ key: String, as type: T.Type = T.self) -> T? { objects[key] as? T }

    public func resource<T: Sendable>(_ key: String, make: @Sendable () async throws -> T) async throws -> T {
        if let existing = objects[key] {
            guard let typed = existing as? T else { preconditionFailure("shared resource '\(key)' has another type") }
            return typed
        }
        let made = try await make()
        objects[key] = made
        return made
    }
}

/// A driver: builds devices of some families for the addresses it understands.
public protocol DriverFactory: Sendable {
    /// The name bench files use after `driver:`.
    var name: String { get }
    var summary: String { get }
    var families: [DeviceFamily] { get }
    /// What the instrument itself allows; soft limits outside these are refused when the bench
    /// file is checked (e.g. a CLD1015 cannot give 2 A).
    func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange]
    /// Checks a binding (address scheme, options) before anything is opened.
    func validate(_ binding: RoleBinding) throws(BenchFileError)
    func makeDevice(_ context: DriverContext) async throws -> any BenchDevice
    /// A patch panel the driver can operate itself (the twin can); nil for real instruments.
    func patchPanel(_ shared: SharedResources) async throws -> (any PatchPanel)?
    /// The driver's hidden state (the twin's clock, drift and noise streams), so a resumed run
    /// continues exactly where it stopped; nil for real instruments, whose state is physical.
    func checkpoint(_ shared: SharedResources) async throws -> Data?
    func restore(_ data: Data, _ shared: SharedResources) async throws
    /// The outputs a binding drives (an AWG channel, a GPIO output line, a laser-diode output),
    /// each named so that two bindings of one output compare equal: the registry refuses a bench in
    /// which two roles would drive the same one.
    func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim]
}

/// One output a role drives, as its bench file names it.
public struct OutputClaim: Sendable, Equatable {
    /// The output itself, e.g. "usbtmc://0957:2807?serial=MY1 channel 2" or "gpio gpiochip0/5".
    public var output: String
    /// What the role uses it for (e.g. "vacuum-gate"), and the bench-file line that binds it.
    public var use: String
    public var line: Int
    public init(output: String, use: String, line: Int) { self.output = output; self.use = use; self.line = line }
}

extension DriverFactory {
    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] { [:] }
    public func patchPanel(_ shared: SharedResources) async throws -> (any PatchPanel)? { nil }
    public func checkpoint(_ shared: SharedResources) async throws -> Data? { nil }
    public func restore(_ data: Data, _ shared: SharedResources) async throws {}
    public func outputs(_ binding: RoleBinding) throws(BenchFileError) -> [OutputClaim] { [] }
}

/// The drivers a qbench build knows.
public struct DriverRegistry: Sendable {
    public private(set) var factories: [String: any DriverFactory] = [:]
    public init(_ factories: [any DriverFactory] = []) { for f in factories { register(f) } }

    public mutating func register(_ factory: any DriverFactory) { factories[factory.name] = factory }

    /// Every check that needs the drivers: each driver exists and serves the role's family, the
    /// binding is valid for it, and no soft limit lies outside the hardware's range.
    public func validate(_ bench: BenchDescription) throws(BenchFileError) {
        // Every role whose instrument has no driver here, at once: the bench is refused whole (a
        // real instrument is never replaced by a simulated one), and the lab sees all it lacks.
        let missing = bench.roles.compactMap { role in factories[bench.bindings[role]!.driver] == nil ? bench.bindings[role]! : nil }
        if let first = missing.first {
            let list = missing.map { "\($0.role.rawValue) (driver '\($0.driver)', line \($0.line))" }.joined(separator: ", ")
            throw BenchFileError(file: bench.file, line: first.line, message: missing.count == 1
                ? "\(first.role.rawValue): unknown driver '\(first.driver)'; known drivers: \(factories.keys.sorted().joined(separator: ", "))"
                : "no driver in this qbench for \(list); the bench is refused whole (no instrument is ever simulated beside real ones): add the drivers, or bind these roles to instruments qbench drives; known drivers: \(factories.keys.sorted().joined(separator: ", "))")
        }
        for role in bench.roles {
            let b = bench.bindings[role]!
            guard let f = factories[b.driver] else { continue }
            guard f.families.contains(role.family) else {
                throw BenchFileError(file: bench.file, line: b.line, message: "\(role.rawValue) is a \(role.family.rawValue) but driver '\(b.driver)' drives \(f.families.map(\.rawValue).joined(separator: ", "))")
            }
            try f.validate(b)
            let hardware = f.hardwareLimits(for: role.family)
            for (param, soft) in b.limits {
                guard let hw = hardware[param] else { continue }
                let dim = Parameter.of(role.family).first { $0.name == param }!.dimension
                for bound in [soft.min, soft.max].compactMap({ $0 }) where !hw.contains(bound) {
                    throw BenchFileError(file: bench.file, line: Int(soft.source.split(separator: ":").last ?? "") ?? b.line,
                                         message: "limit violated: \(role.rawValue).\(param) limit \(dim.format(bound)) lies outside what \(b.driver) hardware allows (\(hw.min.map(dim.format) ?? "−∞") … \(hw.max.map(dim.format) ?? "+∞"), \(hw.source))")
                }
            }
        }
        try refuseSharedOutputs(bench)
        try refuseMix(bench)
    }

    /// Two roles never drive one output: each would set it without knowing of the other (a VOA's
    /// control voltage on the channel that gates the receiver's input, a switch on the shutter's
    /// line). Refused at the second binding's line, naming both.
    func refuseSharedOutputs(_ bench: BenchDescription) throws(BenchFileError) {
        var owner: [String: (Role, OutputClaim)] = [:]
        for role in bench.roles {
            guard let b = bench.bindings[role], let f = factories[b.driver] else { continue }
            for claim in try f.outputs(b) {
                if let (other, first) = owner[claim.output], other != role {
                    throw BenchFileError(file: bench.file, line: claim.line,
                                         message: "\(role.rawValue)'s \(claim.use) is \(claim.output), which \(other.rawValue)'s \(first.use) (line \(first.line)) already drives: two roles never drive one output; bind one of them to another")
                }
                owner[claim.output] = (role, claim)
            }
        }
    }

    /// Real instruments and the twin never share a bench. The twin's light exists only inside the
    /// twin: no real instrument can send light into it or take light from it, so every mix puts a
    /// simulated element in a real light path (a simulated VOA after a real laser would set μ wrong
    /// by the whole VOA setting; a real scope would record what no simulated link ever delivered).
    /// Checked after every role's own checks, at the first simulated role.
    func refuseMix(_ bench: BenchDescription) throws(BenchFileError) {
        let simulated = bench.roles.filter { bench.bindings[$0]?.driver == "sim" }
        let real = bench.roles.filter { bench.bindings[$0]?.driver != "sim" }
        guard let first = simulated.min(by: { (bench.bindings[$0]?.line ?? 0) < (bench.bindings[$1]?.line ?? 0) }), !real.isEmpty else { return }
        throw BenchFileError(file: bench.file, line: bench.bindings[first]?.line ?? 0, message: """
            bench '\(bench.name)' binds the twin (\(simulated.map(\.rawValue).joined(separator: ", "))) beside real instruments \
            (\(real.map(\.rawValue).joined(separator: ", "))): the twin's light exists only inside the twin, so a simulated \
            element would sit in a real light path; bind every role to a real instrument (each site its own file, \
            Devices/benches/fiber-testbed-server.yaml and -client.yaml), or every role to the twin (driver: sim)
            """)
    }

    public func factory(for binding: RoleBinding) -> (any DriverFactory)? { factories[binding.driver] }
}
