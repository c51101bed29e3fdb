import BenchKit
import Foundation
import SecureInference

/// One operating point of an experiment: everything that makes its session differ from the
/// others (the rest — bench, model, data — is the plan's).
public struct ExperimentPoint: Sendable, Codable, Equatable, Hashable {
    /// Mean photons per mode μ at the client input.
    public var photons: Double
    /// The client's amplifier gain G.
    public var gain: Double
    /// The server's weight-leakage budget, bit per mode.
    public var budget: Double
    /// Error probability δ of the server's statements.
    public var delta: Double
    public var images: Int
    public var blockImages: Int
    /// honest | greedy-tap:R | over-amplify:G2 | intercept-resend (a behaviour of the twin's client).
    public var client: String
    /// The twin's seed (its hidden constants and noise streams); nil: the bench file's own.
    public var seed: UInt64?
    /// The client's data-leakage budget I_x, bit per symbol (it refuses a point above it).
    public var privacyBudget: Double

    /// `qbench run`'s defaults.
    public init(photons: Double = 4, gain: Double = 2, budget: Double = 0.1, delta: Double = 1e-6, images: Int = 10_000,
                blockImages: Int = 100, client: String = "honest", seed: UInt64? = nil, privacyBudget: Double = 0.01) {
        self.photons = photons; self.gain = gain; self.budget = budget; self.delta = delta; self.images = images
        self.blockImages = blockImages; self.client = client; self.seed = seed; self.privacyBudget = privacyBudget
    }

    /// The keys a plan may set per point (in `defaults:`, `sweep:` and `points:`).
    public static let keys = ["photons", "gain", "budget", "delta", "images", "block-images", "client", "seed", "privacy-budget"]

    /// Sets `key` from a YAML scalar, refusing a wrong type or a value no session could run with.
    mutating func set(_ key: String, _ value: YAMLReader) throws(BenchFileError) {
        switch key {
        case "photons": photons = try value.double()
        case "gain": gain = try value.double()
        case "budget": budget = try value.double()
        case "delta": delta = try value.double()
        case "privacy-budget":
            privacyBudget = try value.double()
            guard privacyBudget > 0 else { throw value.fail("privacy-budget \(privacyBudget): give a positive data-leakage budget in bit per symbol, e.g. 0.01") }
        case "images": images = try value.int()
        case "block-images": blockImages = try value.int()
        case "client": client = try value.string
        case "seed":
            guard let s = UInt64(try value.string) else { throw value.fail("seed '\(try value.string)' is not a whole number in 0 … \(UInt64.max)") }
            seed = s
        default:
            throw value.fail("unknown key '\(key)'; expected one of: \(Self.keys.joined(separator: ", "))")
        }
        do { try configuration(benchFile: "", modelFile: "", dataDirectory: "").validate() } catch {
            throw value.fail("\(key) \(try value.string) is refused: \(error.problem)")
        }
    }

    /// The session's configuration at this point.
    public func configuration(benchFile: String, modelFile: String, dataDirectory: String) -> RunConfiguration {
        RunConfiguration(benchFile: benchFile, modelFile: modelFile, dataDirectory: dataDirectory, images: images, gain: gain,
                         photonsPerMode: photons, blockImages: blockImages, client: client, budgetBitsPerMode: budget, delta: delta)
    }

    /// One line for people: "μ = 4, G = 2, honest, 200 images, seed 7".
    public var label: String {
        var s = "μ = \(Self.number(photons)), G = \(Self.number(gain)), \(client), \(images) images"
        if let seed { s += ", seed \(seed)" }
        return s
    }

    static func number(_ v: Double) -> String { String(format: "%g", v) }
}

/// The points of a plan: the cartesian product of the `sweep:` axes (in the file's order, the
/// last axis varying fastest) over the `defaults:`, then the explicit `points:`.
public enum ExperimentSweep {
    /// The most points one plan may expand to (a product that large is almost surely a typo).
    public static let maximumPoints = 10_000

    public static func expand(defaults: ExperimentPoint, axes: [(key: String, values: [YAMLReader])],
                              explicit: [[(key: String, value: YAMLReader)]], file: String) throws(BenchFileError) -> [ExperimentPoint] {
        var product: [ExperimentPoint] = []
        if !axes.isEmpty {
            let count = axes.reduce(1) { $0 * max(1, $1.values.count) }
            guard count <= maximumPoints else {
                throw BenchFileError(file: file, line: axes[0].values.first?.tree.line ?? 0,
                                     message: "the sweep expands to \(count) points; qbench runs at most \(maximumPoints) per experiment: split it into several plans")
            }
            product = [defaults]
            for axis in axes {
                var next: [ExperimentPoint] = []
                for p in product {
                    for v in axis.values {
                        var q = p
                        try q.set(axis.key, v)
                        next.append(q)
                    }
                }
                product = next
            }
        }
        var points = product
        for entries in explicit {
            var p = defaults
            for e in entries { try p.set(e.key, e.value) }
            points.append(p)
        }
        guard points.count <= maximumPoints else {
            throw BenchFileError(file: file, line: 0, message: "the plan has \(points.count) points; qbench runs at most \(maximumPoints) per experiment: split it into several plans")
        }
        return points
    }
}
