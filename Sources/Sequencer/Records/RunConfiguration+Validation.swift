import Foundation
import SecureInference

extension RunConfiguration {
    /// Admissible values of every run option, checked before any light (and again on resume, on
    /// what the database holds).
    public static let imageRange = 1...60_000
    public static let gainRange: ClosedRange<Double> = 1.000001...100
    public static let photonsRange: ClosedRange<Double> = 1e-4...1e4
    public static let vacuumSlotRange = 1...65_536
    public static let rawSampleLimitRange = 0...100_000_000

    /// Throws `RunError.invalidOption` naming the option, its value and what is expected.
    public func validate(model: ModelFile, testImages: Int) throws {
        func refuse(_ name: String, _ value: Any, _ expected: String) -> RunError {
            .invalidOption(name: name, value: "\(value)", expected: expected)
        }
        guard Self.imageRange.contains(images), images <= testImages else {
            throw refuse("--images", images, "1 to \(min(testImages, Self.imageRange.upperBound)) (the test set holds \(testImages) images)")
        }
        guard Self.imageRange.contains(blockImages) else {
            throw refuse("--block-images", blockImages, "1 to \(Self.imageRange.upperBound) images per block (a block larger than the run is the whole run)")
        }
        guard gain.isFinite, Self.gainRange.contains(gain) else { throw refuse("--gain", gain, "a finite client gain G with 1 < G ≤ 100") }
        guard photonsPerMode.isFinite, Self.photonsRange.contains(photonsPerMode) else {
            throw refuse("--photons", photonsPerMode, "a finite μ in [\(Self.photonsRange.lowerBound), \(Self.photonsRange.upperBound)] photons per mode")
        }
        guard Self.vacuumSlotRange.contains(vacuumSlotsPerRow) else {
            throw refuse("--vacuum-slots", vacuumSlotsPerRow, "\(Self.vacuumSlotRange.lowerBound) to \(Self.vacuumSlotRange.upperBound) vacuum slots per row")
        }
        guard Self.rawSampleLimitRange.contains(rawSampleLimit) else {
            throw refuse("raw sample limit", rawSampleLimit, "0 to \(Self.rawSampleLimitRange.upperBound) floats")
        }
        guard ClientBehaviour(argument: client) != nil else {
            throw refuse("--client", client, "honest, greedy-tap:R, over-amplify:G2 or intercept-resend")
        }
        let checkProblem: String? = {
            do {
                _ = try LeakageCheck(budgetBitsPerMode: budgetBitsPerMode, delta: delta, photonsPerMode: Measured(photonsPerMode))
                return nil
            } catch { return "\(error)" }
        }()
        if let checkProblem {
            let option = checkProblem.contains("budget") ? "--budget" : (checkProblem.contains("delta") ? "--delta" : "--photons")
            let value = option == "--budget" ? budgetBitsPerMode : (option == "--delta" ? delta : photonsPerMode)
            throw refuse(option, value, checkProblem)
        }
        // The model must be servable (no NaN, zero or constant rows) and the budget must admit an
        // honest client at this operating point, or every honest session would be aborted.
        let n: Int
        do {
            let layers = try model.network.layers.map { try EncodedLayer(weights: $0, photonsPerMode: photonsPerMode) }
            n = layers.map(\.modesPerRow).max() ?? 1
        } catch {
            throw refuse("--model", model.modelID, "a servable model: \(error)")
        }
        let honest = try WeightLeakage.honestBitsPerMode(photonsPerMode: photonsPerMode, amplifier: try ClientAmplifier(gain: gain), modesPerRow: n)
        guard honest < budgetBitsPerMode else {
            throw refuse("--budget", budgetBitsPerMode, "more than an honest client's leakage at this operating point, I_w = \(String(format: "%.4g", honest)) bit/mode (G = \(gain), μ = \(photonsPerMode), n = \(n)): an honest client would be aborted; raise the budget or lower μ")
        }
    }
}
