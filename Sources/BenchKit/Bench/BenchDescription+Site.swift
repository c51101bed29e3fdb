/// One station's half of a one-table simulated bench, for running the twin as two processes.
extension BenchDescription {
    /// The bench as one site of the split twin sees it: only `station`'s roles (and the constraints
    /// and safe-state steps on them), the link rebound to the twin's fibre at `fiber`
    /// (`sim-fiber://HOST:PORT`: the server's site listens there, the client's connects). The name,
    /// the simulation section (seed, hidden constants) and every binding kept are the one-table
    /// bench's, so the simulated instruments are the same instruments: their identities, hence the
    /// calibration records made on them, carry over.
    ///
    /// Only for a bench whose roles are all on the `sim` driver: real instruments are split into
    /// site bench files by hand (docs/two-sites.md), never by deleting roles from a table.
    public func site(of station: Station, fiber: (host: String, port: Int)) throws(BenchFileError) -> BenchDescription {
        guard bindings.values.allSatisfy({ $0.driver == "sim" }) else {
            let real = bindings.values.filter { $0.driver != "sim" }.map { "\($0.role.rawValue) (\($0.driver))" }.sorted()
            throw BenchFileError(file: file, line: 0, message: "binds real instruments (\(real.joined(separator: ", "))): only a bench of simulated instruments splits at the fibre; give each station its own site bench file")
        }
        guard let link = bindings[.link] else {
            throw BenchFileError(file: file, line: 0, message: "binds no link role, so there is no fibre to split the twin at")
        }
        var kept = bindings.filter { $0.key.station == station }
        guard !kept.isEmpty else { throw BenchFileError(file: file, line: 0, message: "binds none of the \(station.rawValue) station's roles") }
        kept[.link] = RoleBinding(role: .link, driver: link.driver, address: .simulatedFiber(host: fiber.host, port: fiber.port),
                                  limits: link.limits, options: link.options, line: link.line)
        let roles = Set(kept.keys)
        return BenchDescription(
            name: name, summary: "\(summary) — the \(station.rawValue) station's site, fibre at \(fiber.host):\(fiber.port)",
            file: file, bindings: kept,
            constraints: constraints.filter { roles.contains($0.condition.role) && roles.contains($0.requirement.role) },
            safeState: safeState.filter { roles.contains($0.role) }, simulation: simulation, symbolRate: symbolRate,
            calibrationValidity: calibrationValidity, text: text)
    }
}
