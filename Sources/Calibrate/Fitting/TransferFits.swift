import Foundation

/// One arm of a Mach–Zehnder modulator swept on its bias, read on a power meter (docs/hardware.md §6.1):
///
///     P(V) = c0 + A cos²(πV/(2Vπ) + φ) + B cos(πV/(2Vπ) + φ) + C sin(πV/(2Vπ) + φ)
///
/// The cos² term is the arm's own transfer; the cos and sin terms are its interference with the
/// light of the other arm of an IQ modulator (small once that arm sits at null; the sin part comes
/// from the arm's finite-extinction leakage); c0 collects the other arm and the meter's offset. φ is the arm's bias phase (defined mod π: the field's sign is not visible
/// in power).
public struct ArmTransferFit: Sendable, Codable, Equatable {
    public let vpi: Double
    public let vpiUncertainty: Double
    /// φ reduced to [0, π).
    public let phase: Double
    public let phaseUncertainty: Double
    public let c0: Double
    /// The arm's own power scale: reading per unit |t|² (the cos² coefficient).
    public let a: Double
    public let aUncertainty: Double
    public let b: Double
    public let c: Double
    public let residualRMS: Double
    public let reducedChiSquare: Double

    /// Bias voltages where the arm's field is zero (null) or maximal (peak), nearest to `near`.
    public func null(near v: Double = 0) -> Double { nearest((Double.pi / 2 - phase) * 2 * vpi / Double.pi, to: v) }
    public func peak(near v: Double = 0) -> Double { nearest(-phase * 2 * vpi / Double.pi, to: v) }
    /// Uncertainty of the null voltage from those of φ and Vπ.
    public func nullUncertainty(near v: Double = 0) -> Double {
        let vn = null(near: v)
        let dPhi = 2 * vpi / Double.pi * phaseUncertainty
        let dVpi = vn / vpi * vpiUncertainty
        return (dPhi * dPhi + dVpi * dVpi).squareRoot()
    }
    /// Extinction ratio of the fitted transfer (maximum over minimum power over one period), dB.
    public var extinctionDB: Double {
        let p = [c0, a, phase, b, vpi, c]
        let values = (0..<400).map { ArmTransferFit.model(4 * vpi * Double($0) / 400, p) }
        return 10 * log10(max(values.max()!, 1e-30) / max(values.min()!, 1e-30))
    }

    func nearest(_ v0: Double, to v: Double) -> Double {
        let period = 2 * vpi
        return v0 + (((v - v0) / period).rounded()) * period
    }

    /// p = [c0, A, φ, B, Vπ, C].
    public static func model(_ v: Double, _ p: [Double]) -> Double {
        let x = Double.pi * v / (2 * p[4]) + p[2]
        let c = cos(x)
        return p[0] + p[1] * c * c + p[3] * c + p[5] * sin(x)
    }

    public var parameters: [Double] { [c0, a, phase, b, vpi, c] }

    /// Fits a bias sweep: a grid search over Vπ with the linear model, then Levenberg–Marquardt.
    /// - Parameter sigma: the meter's noise per reading; nil estimates it from the residuals.
    public static func fit(volts: [Double], power: [Double], sigma: Double? = nil, vpiRange: ClosedRange<Double> = 1...12) throws(FitError) -> ArmTransferFit {
        func linear(_ vpi: Double) -> (rss: Double, vpi: Double, p: [Double])? {
            let w = Double.pi / vpi
            guard let f = try? linearFit(x: volts, y: power, basis: [{ _ in 1 }, { cos(w * $0) }, { sin(w * $0) }, { cos(w / 2 * $0) }, { sin(w / 2 * $0) }])
            else { return nil }
            return (f.residualSumOfSquares, vpi, f.parameters)
        }
        var best: (rss: Double, vpi: Double, p: [Double])?
        var vpi = vpiRange.lowerBound
        while vpi <= vpiRange.upperBound {
            if let f = linear(vpi), best == nil || f.rss < best!.rss { best = f }
            vpi *= 1.01
        }
        // Alias: with the other arm dark the interference terms vanish, and Vπ/2 fits as well as Vπ
        // (its interference term, at the true cos² frequency, takes the whole signal). The arm's
        // own transfer is the longer period: prefer 2Vπ while it fits as well.
        while let b = best, 2 * b.vpi <= vpiRange.upperBound, let twice = linear(2 * b.vpi),
              twice.rss <= 1.05 * b.rss + 1e-30 * Double(volts.count) {
            best = twice
        }
        guard let start = best else { throw .singular("no candidate Vπ in \(vpiRange) fits the sweep") }
        let (c1, s1, c2, s2) = (start.p[1], start.p[2], start.p[3], start.p[4])
        let halfA = (c1 * c1 + s1 * s1).squareRoot()
        let phi = atan2(-s1, c1) / 2
        // c2 cos x + s2 sin x = B cos(x + φ) + C sin(x + φ).
        let bGuess = c2 * cos(phi) - s2 * sin(phi)
        let cGuess = c2 * sin(phi) + s2 * cos(phi)
        let initial = [start.p[0] - halfA, 2 * halfA, phi, bGuess, start.vpi, cGuess]
        let sigmas = sigma.map { [Double](repeating: $0, count: volts.count) }
        let f = try nonlinearFit(x: volts, y: power, sigmas: sigmas, initial: initial, model: model)
        var p = f.parameters
        // Canonical form: A > 0, φ in [0, π) (a shift of φ by π flips the sign of B).
        if p[1] < 0 {
            // A cos²(x+φ) = A − |A| ... with A < 0 it is c0 + A + |A| cos²(x + φ + π/2); the
            // interference terms re-expressed about the shifted phase.
            p[0] += p[1]; p[1] = -p[1]; p[2] += Double.pi / 2
            (p[3], p[5]) = (-p[5], p[3])
        }
        let turns = floor(p[2] / Double.pi)
        let phase = p[2] - turns * Double.pi
        if Int(turns) % 2 != 0 { p[3] = -p[3]; p[5] = -p[5] }
        var rss = 0.0
        for (v, y) in zip(volts, power) { let r = y - model(v, f.parameters); rss += r * r }
        return ArmTransferFit(vpi: abs(p[4]), vpiUncertainty: f.standardError(4), phase: phase, phaseUncertainty: f.standardError(2),
                              c0: p[0], a: p[1], aUncertainty: f.standardError(1), b: p[3], c: p[5], residualRMS: (rss / Double(volts.count)).squareRoot(),
                              reducedChiSquare: f.reducedChiSquare)
    }
}

/// A sinusoid P(V) = c0 + C cos(πV/Vπ + θ0): the outer phase section of an IQ modulator swept
/// with both arms lit, or any interferometer fringe.
public struct FringeFit: Sendable, Codable, Equatable {
    public let vpi: Double
    public let vpiUncertainty: Double
    public let theta0: Double
    public let theta0Uncertainty: Double
    public let c0: Double
    public let amplitude: Double

    /// Voltage where the phase πV/Vπ + θ0 equals `target` (mod 2π), nearest to `near`.
    public func voltage(forPhase target: Double, near v: Double = 0) -> Double {
        let v0 = (target - theta0) * vpi / Double.pi
        let period = 2 * vpi
        return v0 + (((v - v0) / period).rounded()) * period
    }

    public static func model(_ v: Double, _ p: [Double]) -> Double { p[0] + p[1] * cos(Double.pi * v / p[3] + p[2]) }

    public static func fit(volts: [Double], power: [Double], sigma: Double? = nil, vpiRange: ClosedRange<Double> = 1...12) throws(FitError) -> FringeFit {
        var best: (rss: Double, vpi: Double, p: [Double])?
        var vpi = vpiRange.lowerBound
        while vpi <= vpiRange.upperBound {
            let w = Double.pi / vpi
            if let f = try? linearFit(x: volts, y: power, basis: [{ _ in 1 }, { cos(w * $0) }, { sin(w * $0) }]),
               best == nil || f.residualSumOfSquares < best!.rss {
                best = (f.residualSumOfSquares, vpi, f.parameters)
            }
            vpi *= 1.01
        }
        guard let start = best else { throw .singular("no candidate Vπ fits the fringe") }
        let amp = (start.p[1] * start.p[1] + start.p[2] * start.p[2]).squareRoot()
        let initial = [start.p[0], amp, atan2(-start.p[2], start.p[1]), start.vpi]
        let f = try nonlinearFit(x: volts, y: power, sigmas: sigma.map { [Double](repeating: $0, count: volts.count) }, initial: initial, model: model)
        var p = f.parameters
        if p[1] < 0 { p[1] = -p[1]; p[2] += Double.pi }
        var theta = p[2].truncatingRemainder(dividingBy: 2 * Double.pi)
        if theta < 0 { theta += 2 * Double.pi }
        return FringeFit(vpi: abs(p[3]), vpiUncertainty: f.standardError(3), theta0: theta, theta0Uncertainty: f.standardError(2),
                         c0: p[0], amplitude: p[1])
    }
}

/// Laser L-I above threshold: P = s (I − I_th) (docs/hardware.md §6.6).
public struct LaserLIFit: Sendable, Codable, Equatable {
    public let slope: Double
    public let slopeUncertainty: Double
    public let threshold: Double
    public let thresholdUncertainty: Double
    public let maximumRelativeResidual: Double

    /// Fits the points with power above `fraction` of the maximum (the lasing region).
    public static func fit(current: [Double], power: [Double], fraction: Double = 0.1) throws(FitError) -> LaserLIFit {
        let top = power.max() ?? 0
        let pts = zip(current, power).filter { $0.1 > fraction * top }
        let f = try linearFit(x: pts.map(\.0), y: pts.map(\.1), basis: [{ _ in 1 }, { $0 }])
        let (c, s) = (f.parameters[0], f.parameters[1])
        guard s > 0 else { throw .singular("the power does not rise with current: is the laser emitting and the meter connected?") }
        let ith = -c / s
        // Var(−c/s) by the delta method.
        let vc = f.covariance[0][0], vs = f.covariance[1][1], cv = f.covariance[0][1]
        let varIth = vc / (s * s) + c * c * vs / pow(s, 4) - 2 * c * cv / pow(s, 3)
        let worst = pts.map { abs($0.1 - (c + s * $0.0)) / max($0.1, 1e-30) }.max() ?? 0
        return LaserLIFit(slope: s, slopeUncertainty: f.standardError(1), threshold: ith, thresholdUncertainty: max(0, varIth).squareRoot(),
                          maximumRelativeResidual: worst)
    }
}

/// Homodyne noise against LO power: σ²(P) = c + a P + b P² (docs/hardware.md §6.3). a is the shot-noise
/// slope, c the electronic noise; b must be compatible with zero (else LO excess noise).
public struct ShotNoiseFit: Sendable, Codable, Equatable {
    public let slope: Double
    public let slopeUncertainty: Double
    public let electronic: Double
    public let electronicUncertainty: Double
    public let quadratic: Double
    public let quadraticUncertainty: Double

    public static func fit(loPower: [Double], variance: [Double], samplesPerPoint: Int) throws(FitError) -> ShotNoiseFit {
        let sigmas = variance.map { $0 * (2 / Double(samplesPerPoint - 1)).squareRoot() }
        let f = try linearFit(x: loPower, y: variance, sigmas: sigmas, basis: [{ _ in 1 }, { $0 }, { $0 * $0 }])
        return ShotNoiseFit(slope: f.parameters[1], slopeUncertainty: f.standardError(1), electronic: f.parameters[0],
                            electronicUncertainty: f.standardError(0), quadratic: f.parameters[2], quadraticUncertainty: f.standardError(2))
    }
}
