/// Enforces a bench's limits before any request reaches an instrument: per-parameter ranges (soft
/// limits from the bench file, intersected with the hardware's) and constraints across parameters.
/// Every admitted value is recorded at once, so two concurrent requests cannot together break a
/// constraint that each alone respects.
public actor LimitGuard {
    let ranges: [Role: [String: [LimitRange]]]
    let constraints: [Constraint]
    let dimensions: [Role: [String: Parameter.Dimension]]
    private var values: [String: Double] = [:]

    public init(bench: BenchDescription, registry: DriverRegistry) {
        var ranges: [Role: [String: [LimitRange]]] = [:]
        var dims: [Role: [String: Parameter.Dimension]] = [:]
        for (role, b) in bench.bindings {
            let hw = registry.factory(for: b)?.hardwareLimits(for: role.family) ?? [:]
            for p in Parameter.of(role.family) {
                dims[role, default: [:]][p.name] = p.dimension
                ranges[role, default: [:]][p.name] = [b.limits[p.name], hw[p.name]].compactMap { $0 }
            }
        }
        self.ranges = ranges
        self.dimensions = dims
        constraints = bench.constraints
    }

    /// The current (last admitted) value of a parameter, if known.
    public func value(_ role: Role, _ parameter: String) -> Double? { values["\(role.rawValue).\(parameter)"] }

    /// Records a value read back from a device (no check): the starting state of the bench.
    public func observe(_ role: Role, _ parameter: String, _ value: Double) { values["\(role.rawValue).\(parameter)"] = value }

    /// Checks `value` for `role.parameter` and, if allowed, records it. Returns the previous value
    /// so a failed device call can `restore` it.
    @discardableResult
    public func admit(_ role: Role, _ parameter: String, _ value: Double) throws(LimitViolation) -> Double? {
        let dim = dimensions[role]?[parameter] ?? .ratio
        guard value.isFinite else {
            throw LimitViolation(role: role, parameter: parameter, requested: "\(value)", rule: "not a finite number", source: "qbench")
        }
        for r in ranges[role]?[parameter] ?? [] where !r.contains(value) {
            let rule = "allowed range is \(r.min.map(dim.format) ?? "−∞") … \(r.max.map(dim.format) ?? "+∞")"
            throw LimitViolation(role: role, parameter: parameter, requested: dim.format(value), rule: rule, source: r.source)
        }
        let key = "\(role.rawValue).\(parameter)"
        var proposed = values
        proposed[key] = value
        for c in constraints where c.condition.key == key || c.requirement.key == key {
            guard let cv = proposed[c.condition.key], c.condition.holds(cv) else { continue }
            guard let rv = proposed[c.requirement.key] else {
                throw LimitViolation(role: role, parameter: parameter, requested: dim.format(value),
                                     rule: "while \(c.condition) the bench requires \(c.requirement), and \(c.requirement.key) is not known yet", source: c.source)
            }
            if !c.requirement.holds(rv) {
                throw LimitViolation(role: role, parameter: parameter, requested: dim.format(value),
                                     rule: "while \(c.condition) the bench requires \(c.requirement) (\(c.requirement.key) would be \(c.requirement.parameter.dimension.format(rv)))",
                                     source: c.source)
            }
        }
        let previous = values[key]
        values[key] = value
        return previous
    }

    public func restore(_ role: Role, _ parameter: String, _ previous: Double?) {
        values["\(role.rawValue).\(parameter)"] = previous
    }
}

/// Admits `value` for `role.parameter` on `limits`, runs the device call on the caller's actor,
/// and undoes the admission if the call fails.
public func guarded<T>(_ limits: LimitGuard, _ role: Role, _ parameter: String, _ value: Double,
                       isolation: isolated (any Actor)? = #isolation,
                       _ body: () async throws -> T) async throws -> T {
    let previous = try await limits.admit(role, parameter, value)
    do { return try await body() } catch {
        await limits.restore(role, parameter, previous)
        throw error
    }
}
