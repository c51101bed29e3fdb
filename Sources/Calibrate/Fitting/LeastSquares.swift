import Foundation

/// A fitted parameter vector with its covariance and fit quality.
public struct FitResult: Sendable, Equatable {
    public let parameters: [Double]
    public let covariance: [[Double]]
    /// Residual sum of squares (weighted if weights were given).
    public let residualSumOfSquares: Double
    public let degreesOfFreedom: Int
    public let iterations: Int

    public func standardError(_ k: Int) -> Double { max(0, covariance[k][k]).squareRoot() }
    /// Reduced χ² (RSS / dof): ≈ 1 when the model and the stated noise fit the data.
    public var reducedChiSquare: Double { residualSumOfSquares / Double(max(1, degreesOfFreedom)) }
}

public enum FitError: Error, CustomStringConvertible, Equatable {
    case tooFewPoints(points: Int, parameters: Int)
    case singular(String)
    case noConvergence(iterations: Int)
    public var description: String {
        switch self {
        case let .tooFewPoints(p, k): "a fit of \(k) parameters needs more than \(k) points, got \(p): extend the sweep"
        case let .singular(what): "the fit is degenerate (\(what)): the sweep does not constrain every parameter; widen its range"
        case let .noConvergence(n): "the fit did not converge in \(n) iterations: check the sweep covers at least one full period"
        }
    }
}

/// Solves the symmetric positive-definite system A x = b (Cholesky); nil if A is not SPD.
func solveSPD(_ a: [[Double]], _ b: [Double]) -> [Double]? {
    let n = b.count
    var l = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for i in 0..<n {
        for j in 0...i {
            var s = a[i][j]
            for k in 0..<j { s -= l[i][k] * l[j][k] }
            if i == j {
                guard s > 0 else { return nil }
                l[i][i] = s.squareRoot()
            } else {
                l[i][j] = s / l[j][j]
            }
        }
    }
    var y = [Double](repeating: 0, count: n)
    for i in 0..<n { var s = b[i]; for k in 0..<i { s -= l[i][k] * y[k] }; y[i] = s / l[i][i] }
    var x = [Double](repeating: 0, count: n)
    for i in stride(from: n - 1, through: 0, by: -1) { var s = y[i]; for k in (i + 1)..<n { s -= l[k][i] * x[k] }; x[i] = s / l[i][i] }
    return x
}

/// The inverse of an SPD matrix, column by column.
func inverseSPD(_ a: [[Double]]) -> [[Double]]? {
    let n = a.count
    var inv = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
    for c in 0..<n {
        var e = [Double](repeating: 0, count: n); e[c] = 1
        guard let col = solveSPD(a, e) else { return nil }
        for r in 0..<n { inv[r][c] = col[r] }
    }
    return inv
}

/// Weighted linear least squares y ≈ Σ_k p_k f_k(x). With `sigmas` the covariance is absolute;
/// without, it is scaled by the residual variance.
public func linearFit(x: [Double], y: [Double], sigmas: [Double]? = nil, basis: [(Double) -> Double]) throws(FitError) -> FitResult {
    let n = x.count, k = basis.count
    guard n > k else { throw .tooFewPoints(points: n, parameters: k) }
    var ata = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
    var atb = [Double](repeating: 0, count: k)
    for i in 0..<n {
        let w = sigmas.map { 1 / ($0[i] * $0[i]) } ?? 1
        let f = basis.map { $0(x[i]) }
        for r in 0..<k {
            atb[r] += w * f[r] * y[i]
            for c in 0..<k { ata[r][c] += w * f[r] * f[c] }
        }
    }
    guard let p = solveSPD(ata, atb), var cov = inverseSPD(ata) else { throw .singular("the basis functions are linearly dependent on these points") }
    var rss = 0.0
    for i in 0..<n {
        let w = sigmas.map { 1 / ($0[i] * $0[i]) } ?? 1
        let r = y[i] - zip(p, basis).reduce(0) { $0 + $1.0 * $1.1(x[i]) }
        rss += w * r * r
    }
    if sigmas == nil {
        let s2 = rss / Double(n - k)
        cov = cov.map { $0.map { $0 * s2 } }
    }
    return FitResult(parameters: p, covariance: cov, residualSumOfSquares: rss, degreesOfFreedom: n - k, iterations: 1)
}

/// Levenberg–Marquardt for y ≈ model(x, p), numerical Jacobian. With `sigmas` the covariance
/// is absolute; without, scaled by the residual variance.
public func nonlinearFit(x: [Double], y: [Double], sigmas: [Double]? = nil, initial: [Double],
                         maxIterations: Int = 1000, model: (Double, [Double]) -> Double) throws(FitError) -> FitResult {
    let n = x.count, k = initial.count
    guard n > k else { throw .tooFewPoints(points: n, parameters: k) }
    let w = sigmas.map { $0.map { 1 / ($0 * $0) } } ?? [Double](repeating: 1, count: n)
    func rss(_ p: [Double]) -> Double {
        var s = 0.0
        for i in 0..<n { let r = y[i] - model(x[i], p); s += w[i] * r * r }
        return s
    }
    func jacobian(_ p: [Double]) -> [[Double]] {
        var j = [[Double]](repeating: [Double](repeating: 0, count: k), count: n)
        for c in 0..<k {
            let h = 1e-6 * max(abs(p[c]), 1e-3)
            var up = p, dn = p
            up[c] += h; dn[c] -= h
            for i in 0..<n { j[i][c] = (model(x[i], up) - model(x[i], dn)) / (2 * h) }
        }
        return j
    }
    func normal(_ j: [[Double]]) -> [[Double]] {
        var a = [[Double]](repeating: [Double](repeating: 0, count: k), count: k)
        for i in 0..<n { for r in 0..<k { for c in 0..<k { a[r][c] += w[i] * j[i][r] * j[i][c] } } }
        return a
    }
    var p = initial
    var current = rss(p)
    var lambda = 1e-3
    var iterations = 0
    var converged = false
    var lastRelative = Double.infinity
    while iterations < maxIterations {
        iterations += 1
        let j = jacobian(p)
        let a = normal(j)
        var g = [Double](repeating: 0, count: k)
        for i in 0..<n {
            let r = y[i] - model(x[i], p)
            for c in 0..<k { g[c] += w[i] * j[i][c] * r }
        }
        var improved = false
        while lambda < 1e12 {
            var damped = a
            for d in 0..<k { damped[d][d] += lambda * max(a[d][d], 1e-300) }
            guard let step = solveSPD(damped, g) else { lambda *= 10; continue }
            let trial = zip(p, step).map { $0 + $1 }
            let value = rss(trial)
            if value < current {
                let relative = (current - value) / max(current, 1e-300)
                p = trial; current = value; lambda = max(lambda / 10, 1e-12); improved = true
                lastRelative = relative
                if relative < 1e-10 { converged = true }
                break
            }
            lambda *= 10
        }
        if !improved || converged { converged = true; break }
    }
    // Still creeping after many iterations by less than 1e-7 per step: at the optimum for any purpose.
    if !converged && lastRelative < 1e-7 { converged = true }
    guard converged else { throw .noConvergence(iterations: iterations) }
    guard var cov = inverseSPD(normal(jacobian(p))) else { throw .singular("the Jacobian is rank-deficient at the optimum") }
    if sigmas == nil {
        let s2 = current / Double(n - k)
        cov = cov.map { $0.map { $0 * s2 } }
    }
    return FitResult(parameters: p, covariance: cov, residualSumOfSquares: current, degreesOfFreedom: n - k, iterations: iterations)
}
