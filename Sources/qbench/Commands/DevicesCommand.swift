import ArgumentParser
import BenchKit
import Foundation

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "Every role of a bench: its driver, address, family, state and limits.",
        discussion: """
            Opens the bench (default: the digital twin, Devices/benches/sim.yaml), reads each device's identity and \
            settings, and lists the soft limits with units, the cross-parameter constraints and the safe-state order. \
            It changes nothing on the bench. Bench-file format: docs/bench-files.md.
            """)

    @Option(help: "Bench file (default: Devices/benches/sim.yaml).") var bench: String?
    @Flag(help: "One JSON object on stdout.") var json = false

    struct Output: Encodable {
        struct Device: Encodable {
            let role: String
            let summary: String
            let driver: String
            let address: String
            let family: String
            let identity: String?
            let settings: [String: String]
            let limits: [String: String]
            let error: String?
        }
        let bench: String
        let file: String
        let description: String
        let devices: [Device]
        let constraints: [String]
        let safeState: [String]
    }

    @OptionGroup var logging: LoggingOptions

    func run() async throws {
        try logging.bootstrap()
        let opened = try await BenchOpening.open(bench)
        let d = opened.description
        let snapshot = await opened.snapshot()
        var devices: [Output.Device] = []
        for entry in snapshot.entries {
            let role = Role(rawValue: entry.role)!
            let binding = d.bindings[role]!
            let hardware = try BenchOpening.registry().factory(for: binding)?.hardwareLimits(for: role.family) ?? [:]
            var limits: [String: String] = [:]
            for p in Parameter.of(role.family) {
                let ranges = [binding.limits[p.name], hardware[p.name]].compactMap { $0 }
                guard !ranges.isEmpty else { continue }
                let lo = ranges.compactMap(\.min).max(), hi = ranges.compactMap(\.max).min()
                let source = ranges.map(\.source).joined(separator: ", ")
                limits[p.name] = "\(lo.map { p.dimension.format($0) } ?? "−∞") … \(hi.map { p.dimension.format($0) } ?? "+∞") (\(source))"
            }
            devices.append(.init(role: entry.role, summary: role.summary, driver: entry.driver, address: entry.address, family: role.family.rawValue,
                                 identity: entry.identity.map { "\($0)" }, settings: entry.settings, limits: limits, error: entry.error))
        }
        let constraints = d.constraints.map { "while \($0.condition) require \($0.requirement) (\($0.source))" }
        let out = Output(bench: d.name, file: d.file, description: d.summary, devices: devices, constraints: constraints,
                         safeState: d.safeState.map(\.description))
        if json { try printJSON(out); return }
        printLine("bench \(d.name): \(d.summary)\nfile  \(d.file)\n")
        for dev in devices {
            printLine("\(dev.role)  [\(dev.family)]  \(dev.summary)")
            printLine("  driver   \(dev.driver) at \(dev.address)")
            if let id = dev.identity { printLine("  identity \(id)") }
            if let e = dev.error { printLine("  ERROR    \(e)") }
            for (k, v) in dev.settings.sorted(by: { $0.key < $1.key }) { printLine("  state    \(k) = \(v)") }
            for (k, v) in dev.limits.sorted(by: { $0.key < $1.key }) { printLine("  limit    \(k): \(v)") }
        }
        printLine("\nconstraints")
        for c in constraints { printLine("  \(c)") }
        if constraints.isEmpty { printLine("  none") }
        printLine("safe state (in order)")
        for (k, s) in out.safeState.enumerated() { printLine("  \(k + 1). \(s)") }
    }
}
