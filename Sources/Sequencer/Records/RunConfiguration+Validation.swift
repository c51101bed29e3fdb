import Foundation
import SecureInference

extension RunConfiguration {
    /// Every check of a run's options before any light (and again on resume, on what the database
    /// holds): the ranges of `validate()`, then what needs the model and the test set. Throws
    /// `RunError.invalidOption` naming the option, its value and what is expected.
    public func validate(model: ModelFile, testImages: Int) throws {
        try validate(model: model)
        guard images <= testImages else {
            throw RunError.invalidOption(name: "--images", value: "\(images)", expected: "at most the \(testImages) images the test set holds")
        }
    }

    /// The server station's checks: the ranges, the model servable, the budget above an honest
    /// client's leakage. (How many images the client holds is the client's check.)
    public func validate(model: ModelFile) throws {
        do { try validate() } catch { throw RunError.invalidOption(name: error.option, value: "", expected: error.problem) }
        func refuse(_ name: String, _ value: Any, _ expected: String) -> RunError {
            .invalidOption(name: name, value: "\(value)", expected: expected)
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
