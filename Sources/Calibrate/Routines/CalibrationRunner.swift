import BenchKit
import Foundation

/// Runs calibrations in dependency order (`qbench calibrate all`).
public enum CalibrationRunner {
    public static func run(_ kind: CalibrationKind, _ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        switch kind {
        case .laser: [try await LaserCalibration.run(ctx)]
        case .modulator: [try await ModulatorCalibration.run(ctx)]
        case .attenuation: [try await AttenuationCalibration.run(ctx)]
        case .homodyne: [try await HomodyneCalibration.run(ctx, role: .serverReceiver), try await HomodyneCalibration.run(ctx, role: .clientReceiver)]
        case .backToBack: [try await BackToBackCalibration.run(ctx)]
        case .link: [try await LinkCalibration.run(ctx)]
        }
    }

    /// Every kind, in order; the bench is left in its safe state afterwards whatever happens.
    public static func all(_ ctx: CalibrationContext) async throws -> [CalibrationRecord] {
        var out: [CalibrationRecord] = []
        do {
            for kind in CalibrationKind.allCases { out += try await run(kind, ctx) }
        } catch {
            await ctx.bench.enterSafeState()
            throw error
        }
        await ctx.bench.enterSafeState()
        return out
    }
}
