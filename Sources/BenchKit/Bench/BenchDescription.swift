import Foundation

/// One role of a bench file: which driver speaks to which address, and the soft limits.
public struct RoleBinding: Sendable {
    public let role: Role
    public let driver: String
    public let address: DeviceAddress
    /// Soft limits by parameter name (SI; dB for decibels).
    public let limits: [String: LimitRange]
    /// Driver-specific options (e.g. an AWG channel map), read by the driver.
    public let options: YAMLReader?
    public let line: Int
}

/// A step of the safe-state sequence, run in order on every exit path.
public struct SafeStateStep: Sendable, Hashable, Codable, CustomStringConvertible {
    public enum Action: String, Sendable, Codable, CaseIterable {
        /// Laser: ramp the current down, then emission off.
        case rampDown = "ramp-down"
        /// Shutter: close.
        case close
        /// Modulator: zero every drive.
        case zeroDrive = "zero-drive"
        /// Any device: its own `makeSafe()`.
        case safe
    }
    public let role: Role
    public let action: Action
    public var description: String { "\(role.rawValue): \(action.rawValue)" }

    func applies(to family: DeviceFamily) -> Bool {
        switch action {
        case .rampDown: family == .laser
        case .close: family == .shutter
        case .zeroDrive: family == .modulator
        case .safe: true
        }
    }
}

/// A bench file (`Devices/benches/*.yaml`, format in docs/bench-files.md), parsed and checked.
public struct BenchDescription: Sendable {
    public let name: String
    public let summary: String
    public let file: String
    public let bindings: [Role: RoleBinding]
    public let constraints: [Constraint]
    public let safeState: [SafeStateStep]
    /// The `simulation:` section, read by the simulated backend (seed, true constants, faults).
    public let simulation: YAMLReader?
    /// Optical modes per second (the AWG sample rate of the drive waveforms): `symbol-rate:`,
    /// default 1 GBd.
    public let symbolRate: Frequency
    /// How long calibration records of each kind stay valid on this bench (`calibration-validity:`,
    /// e.g. `modulator: 1 h`), overriding the defaults; keyed by the kind's name.
    public let calibrationValidity: [String: Duration]
    /// The file's text, kept for the run record's bench snapshot.
    public let text: String

    public var roles: [Role] { bindings.keys.sorted() }

    public static func load(_ url: URL) throws(BenchFileError) -> BenchDescription {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            let exists = FileManager.default.fileExists(atPath: url.path)
            throw BenchFileError(file: url.path, line: 0, message: exists
                ? "cannot be read: check its permissions (`ls -l \(url.path)`)"
                : "does not exist: check the path (benches live in Devices/benches/)")
        }
        return try parse(try YAMLTree.text(of: data, file: url.path), file: url.path)
    }

    /// A bench's name is a path component (`$QBENCH_HOME/calibration/NAME/`, `twin/NAME-…`): only
    /// letters, digits, '.', '_' and '-', 1 to 64 of them, not starting with '.' (no '..', no '/').
    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.count), name.first != "." else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    public static func parse(_ text: String, file: String) throws(BenchFileError) -> BenchDescription {
        let root = YAMLReader(file: file, tree: try YAMLTree.parse(text, file: file))
        try root.onlyKeys(["bench", "description", "symbol-rate", "calibration-validity", "roles", "constraints", "safe-state", "simulation"], in: "a bench file")
        let name = try root.required("bench", "the bench's name, e.g. 'bench: sim'").string
        guard Self.isValidName(name) else {
            throw root.fail("bench name '\(name)' cannot be used: it names the bench's folder in the calibration store and its twin's saved time, so it must be 1 to 64 letters, digits, '.', '_' or '-', not starting with '.' (e.g. 'lab-a-bench-2')",
                            line: (try? root.entries.first { $0.key == "bench" }?.keyLine) ?? 1)
        }
        let summary = try root.optional("description")?.string ?? ""
        var bindings: [Role: RoleBinding] = [:]
        for entry in try root.required("roles", "the roles of the bench, each with a driver and an address").entries {
            guard let role = Role(rawValue: entry.key) else {
                throw root.fail("unknown role '\(entry.key)'; the roles are: \(Role.allCases.map(\.rawValue).joined(separator: ", "))", line: entry.keyLine)
            }
            bindings[role] = try parseBinding(role, entry.value, line: entry.keyLine)
        }
        var constraints: [Constraint] = []
        for item in try root.optional("constraints")?.items ?? [] {
            try item.onlyKeys(["while", "require"], in: "a constraint")
            let cond = try item.required("while", "the condition, e.g. 'while: shutter.open == open'")
            let req = try item.required("require", "the requirement, e.g. 'require: server.laser.current <= 80 mA'")
            let c: Constraint.Comparison, r: Constraint.Comparison
            let condText = try cond.string, reqText = try req.string
            do { c = try Constraint.Comparison.parse(condText) } catch { throw cond.fail(error.message) }
            do { r = try Constraint.Comparison.parse(reqText) } catch { throw req.fail(error.message) }
            for (cmp, reader) in [(c, cond), (r, req)] where bindings[cmp.role] == nil {
                throw reader.fail("names \(cmp.role.rawValue), which this bench does not bind")
            }
            constraints.append(Constraint(condition: c, requirement: r, source: "\(file):\(item.tree.line)"))
        }
        var safeState: [SafeStateStep] = []
        if let steps = try root.optional("safe-state") {
            for item in try steps.items {
                let entries = try item.entries
                guard entries.count == 1, let e = entries.first else { throw item.fail("each safe-state step is one 'role: action' line") }
                guard let role = Role(rawValue: e.key), bindings[role] != nil else {
                    throw item.fail("safe-state names '\(e.key)', which is not a role of this bench", line: e.keyLine)
                }
                guard let action = SafeStateStep.Action(rawValue: try e.value.string) else {
                    throw e.value.fail("unknown safe-state action '\(try e.value.string)'; expected one of: \(SafeStateStep.Action.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let step = SafeStateStep(role: role, action: action)
                guard step.applies(to: role.family) else {
                    throw e.value.fail("'\(action.rawValue)' does not apply to \(role.rawValue), a \(role.family.rawValue)")
                }
                safeState.append(step)
            }
        } else {
            safeState = defaultSafeState(for: Set(bindings.keys))
        }
        try checkSafeStateCovers(bindings: bindings, safeState: safeState, root: root)
        let symbolRate = try root.optional("symbol-rate")?.quantity(Frequency.self) ?? .gigahertz(1)
        guard symbolRateRange.contains(symbolRate.hertz) else {
            throw root.fail("symbol-rate \(symbolRate) is outside \(Frequency(si: symbolRateRange.lowerBound)) … \(Frequency(si: symbolRateRange.upperBound)): give the AWG's sample rate, e.g. '1 GBd'",
                            line: try root.optional("symbol-rate")?.tree.line)
        }
        var validity: [String: Duration] = [:]
        if let section = try root.optional("calibration-validity") {
            try section.onlyKeys(calibrationKinds, in: "calibration-validity (one duration per calibration kind)")
            for e in try section.entries { validity[e.key] = try parseDuration(e.value) }
        }
        return BenchDescription(name: name, summary: summary, file: file, bindings: bindings, constraints: constraints,
                                safeState: safeState, simulation: try root.optional("simulation"), symbolRate: symbolRate,
                                calibrationValidity: validity, text: text)
    }

    static func parseBinding(_ role: Role, _ r: YAMLReader, line: Int) throws(BenchFileError) -> RoleBinding {
        try r.onlyKeys(["driver", "address", "limits", "options"], in: "role \(role.rawValue)")
        let driver = try r.required("driver", "the driver for \(role.rawValue), e.g. 'driver: sim'").string
        let addressReader = try r.required("address", "where \(role.rawValue) is, e.g. 'address: sim://\(role.rawValue)' or 'usbtmc://1313:8072?serial=…'")
        let address: DeviceAddress
        do { address = try DeviceAddress(parsing: try addressReader.string) } catch { throw addressReader.fail("\(error)") }
        var limits: [String: LimitRange] = [:]
        if let l = try r.optional("limits") {
            let known = Parameter.of(role.family)
            for e in try l.entries {
                guard let p = known.first(where: { $0.name == e.key }) else {
                    throw l.fail("\(role.rawValue) (a \(role.family.rawValue)) has no limitable parameter '\(e.key)'"
                                 + (known.isEmpty ? "" : "; it has: \(known.map(\.name).joined(separator: ", "))"), line: e.keyLine)
                }
                try e.value.onlyKeys(["min", "max"], in: "the limit of \(role.rawValue).\(p.name)")
                func value(_ key: String) throws(BenchFileError) -> Double? {
                    guard let v = try e.value.optional(key) else { return nil }
                    guard let x = p.dimension.parse(try v.string) else {
                        throw v.fail("bad unit: '\(try v.string)' is not a \(p.dimension.rawValue) (e.g. \(p.dimension.example))")
                    }
                    return x
                }
                let range = LimitRange(min: try value("min"), max: try value("max"), source: "\(r.file):\(e.keyLine)")
                if let lo = range.min, let hi = range.max, lo > hi {
                    throw e.value.fail("limit violated: min \(p.dimension.format(lo)) is above max \(p.dimension.format(hi))")
                }
                guard range.min != nil || range.max != nil else { throw e.value.fail("a limit needs 'min', 'max' or both") }
                limits[p.name] = range
            }
        }
        return RoleBinding(role: role, driver: driver, address: address, limits: limits, options: try r.optional("options"), line: line)
    }

    /// The calibration kinds a bench may set a validity for (Calibrate's `CalibrationKind`, which
    /// BenchKit cannot import; `CalibrationKindNamesTests` keeps the two lists equal).
    public static let calibrationKinds = ["laser", "modulator", "attenuation", "homodyne", "back-to-back", "link"]

    /// The symbol rates a bench may declare: 1 Hz … 1 THz (the AWG's sample rate).
    public static let symbolRateRange: ClosedRange<Double> = 1...1e12

    /// "90 s", "30 min", "8 h", "30 d"; at most `Duration.maximumFileSeconds` (about 31 years).
    static func parseDuration(_ r: YAMLReader) throws(BenchFileError) -> Duration {
        let text = try r.string
        let parts = text.split(separator: " ")
        let factors: [String: Double] = ["s": 1, "min": 60, "h": 3600, "d": 86400]
        guard parts.count == 2, let v = Double(parts[0]), v > 0, let f = factors[String(parts[1])] else {
            throw r.fail("'\(text)' is not a duration: write e.g. '90 s', '30 min', '8 h' or '30 d'")
        }
        guard let duration = Duration(checkedSeconds: v * f) else {
            throw r.fail("'\(text)' is longer than any calibration stays valid: write at most \(Int(Duration.maximumFileSeconds / 86400)) d, e.g. '3650 d'")
        }
        return duration
    }

    /// The families whose devices emit light or drive something that does (laser, the
    /// modulator's AWG outputs, the shutter that lets light out): the safe state must cover each.
    public static let emittingFamilies: Set<DeviceFamily> = [.laser, .modulator, .shutter]

    /// Refuses a safe state that leaves an emitting device as it was: every bound laser,
    /// modulator and shutter needs a step (its specific action or `safe`).
    static func checkSafeStateCovers(bindings: [Role: RoleBinding], safeState: [SafeStateStep], root: YAMLReader) throws(BenchFileError) {
        let covered = Set(safeState.map(\.role))
        let missing = bindings.keys.sorted().filter { emittingFamilies.contains($0.family) && !covered.contains($0) }
        guard !missing.isEmpty else { return }
        let sectionLine = try root.entries.first { $0.key == "safe-state" }?.keyLine
        let add = missing.map { role -> String in
            let action: SafeStateStep.Action = switch role.family { case .laser: .rampDown; case .shutter: .close; default: .zeroDrive }
            return "'- \(role.rawValue): \(action.rawValue)'"
        }
        throw root.fail("safe-state leaves \(missing.map(\.rawValue).joined(separator: ", ")) as \(missing.count == 1 ? "it is" : "they are"), but \(missing.count == 1 ? "it emits" : "they emit") light or drive it: add \(add.joined(separator: " and ")) (lasers first), or leave 'safe-state' out for the default order",
                        line: sectionLine)
    }

    /// Lasers down first, then shutters closed, modulator drives zeroed, everything else to its own safe state.
    public static func defaultSafeState(for roles: Set<Role>) -> [SafeStateStep] {
        var steps: [SafeStateStep] = []
        for role in roles.sorted() where role.family == .laser { steps.append(.init(role: role, action: .rampDown)) }
        for role in roles.sorted() where role.family == .shutter { steps.append(.init(role: role, action: .close)) }
        for role in roles.sorted() where role.family == .modulator { steps.append(.init(role: role, action: .zeroDrive)) }
        for role in roles.sorted() where ![.laser, .shutter, .modulator].contains(role.family) { steps.append(.init(role: role, action: .safe)) }
        return steps
    }
}
