import BenchKit
import Foundation

/// Runs calibrations in dependency order (`qbench calibrate all`).
public enum CalibrationRunner {
    public static func run(_ kind: CalibrationKind, _ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        switch kind {
        case .laser: return [try await LaserCalibration.run(ctx)]
        case .modulator: return [try await ModulatorCalibration.run(ctx)]
        case .attenuation: return [try await AttenuationCalibration.run(ctx)]
        case .homodyne:
            // The receivers the bench binds (a site of two has one).
            var records: [CalibrationRecord] = []
            for role in [Role.serverReceiver, .clientReceiver] where ctx.bench.has(role) { records.append(try await HomodyneCalibration.run(ctx, role: role)) }
            return records
        case .backToBack: return [try await BackToBackCalibration.run(ctx)]
        case .link: return [try await LinkCalibration.run(ctx)]
        }
    }

    /// The kinds a bench can calibrate alone, in dependency order: every kind on one table; at one
    /// site of two, the site's own (the client's site: its homodyne; the server's: all but the
    /// link, which both sites measure together, `LinkCalibrationSession`).
    public static func kinds(for bench: Bench) -> [CalibrationKind] {
        let server = bench.has(.serverLaser), client = bench.has(.clientReceiver)
        return CalibrationKind.allCases.filter { kind in
            switch kind {
            case .homodyne: server || client
            case .link: server && client
            default: server
            }
        }
    }

    /// Every kind the bench can calibrate alone, in order; the bench is left in its safe state
    /// afterwards whatever happens.
    public static func all(_ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        var out: [CalibrationRecord] = []
        do {
            for kind in kinds(for: ctx.bench) { out += try await run(kind, ctx) }
        } catch {
            await ctx.bench.enterSafeState()
            throw error
        }
        await ctx.bench.enterSafeState()
        return out
    }
}

