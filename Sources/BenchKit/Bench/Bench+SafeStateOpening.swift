import Foundation

extension Bench {
    /// A bench opened only to make it safe, after the process that drove it died: every role the
    /// safe-state sequence names (of `station`, or all) is opened on its own, so one instrument
    /// that is unplugged, busy or answering garbage costs its own steps and no others. The result's
    /// `enterSafeState(of:)` attempts every step; a role that did not open fails its steps with
    /// `missingRole`, and `unopened` says why it did not open.
    public struct SafeStateOpening: Sendable {
        public let bench: Bench
        /// Role → why its device could not be opened.
        public let unopened: [Role: String]
    }

    public static func openForSafeState(_ description: BenchDescription, registry: DriverRegistry,
                                        station: Station? = nil) async -> SafeStateOpening {
        let shared = SharedResources()
        let limits = LimitGuard(bench: description, registry: registry)
        var devices: [Role: any BenchDevice] = [:]
        var unopened: [Role: String] = [:]
        let roles = Set(description.safeState.filter { station == nil || $0.role.station == station }.map(\.role))
        for role in roles.sorted() {
            do {
                devices[role] = try await makeDevice(role, of: description, registry: registry, shared: shared, limits: limits)
            } catch {
                unopened[role] = "\(error)"
            }
        }
        let bench = Bench(description: description, limits: limits, patchPanel: FixedPatchPanel(), shared: shared,
                          devices: devices, registry: registry)
        // The limit guard learns each device's present values; a device that cannot say keeps its
        // declared limits only, and the safe-state steps (which only lower and close) still run.
        for (role, device) in devices { try? await bench.observeStartingValue(of: role, device) }
        return SafeStateOpening(bench: bench, unopened: unopened)
    }
}
