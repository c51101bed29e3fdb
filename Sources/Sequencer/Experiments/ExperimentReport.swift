import Foundation
import Plots

/// The experiment's HTML report: its plots (accuracy against the certified weight leakage; abort
/// fraction against images served per client behaviour), the table of points with their sessions,
/// the calibrations and drift checks it made, the plan and the journal. Self-contained (inline SVG).
public struct ExperimentReport: Sendable {
    public let id: String
    public let plan: ExperimentPlan
    public let rows: [ExperimentRow]
    public let journal: [ExperimentJournal.Entry]

    public init(id: String, plan: ExperimentPlan, rows: [ExperimentRow], journal: [ExperimentJournal.Entry]) {
        self.id = id; self.plan = plan; self.rows = rows; self.journal = journal
    }

    /// (file name without .svg, SVG text) for each plot the plan asks for and the data supports.
    public var plots: [(name: String, svg: String)] {
        var out: [(name: String, svg: String)] = []
        for p in plan.report.plots {
            switch p {
            case .accuracyLeakage: if let s = accuracyLeakagePlot { out.append((name: "accuracy-leakage", svg: s)) }
            case .abortImages: if let s = abortImagesPlot { out.append((name: "abort-images", svg: s)) }
            }
        }
        return out
    }

    /// Accuracy against the certified (upper-bound) weight leakage of every measured point; honest
    /// points grouped by gain, each attack on its own.
    var accuracyLeakagePlot: String? {
        /// A measured point: its leakage bound, the client's accuracy, and its μ.
        typealias Point = (bound: Double, accuracy: Double, photons: Double)
        var groups: [(label: String, honest: Bool, points: [Point])] = []
        for r in rows {
            guard let bound = r.weightLeakageUpperBound, let accuracy = r.accuracy else { continue }
            let honest = r.parameters.client == "honest"
            let label = honest ? "honest, G = \(ExperimentPoint.number(r.parameters.gain))" : r.parameters.client
            let p = (bound, accuracy, r.parameters.photons)
            if let k = groups.firstIndex(where: { $0.label == label }) { groups[k].points.append(p) } else { groups.append((label, honest, [p])) }
        }
        guard !groups.isEmpty else { return nil }
        var plot = LinePlot(title: "Accuracy against certified weight leakage (measured through the protocol)",
                            xLabel: "I_w upper bound (bit/mode, at the worst corner of the confidence region)", yLabel: "accuracy (the client's)")
        let xs = groups.flatMap { $0.points.map(\.bound) }
        if let lo = xs.min(), let hi = xs.max(), lo > 0, hi / lo > 20 { plot.logX = true }
        plot.width = 900
        // Honest points of one gain joined in order of μ (the paper's curves), each labelled with its
        // μ when the group has more than one; an attack's sessions as markers.
        for (k, g) in groups.enumerated() {
            let sorted = g.points.sorted { $0.photons < $1.photons }
            let curve = g.honest && Set(sorted.map(\.photons)).count > 1
            plot.series.append(LinePlot.Series(label: g.label, points: sorted.map { ($0.bound, $0.accuracy) },
                                               color: LinePlot.palette[k % LinePlot.palette.count], style: curve ? .linesAndMarkers : .markers))
            if curve { plot.annotations += sorted.map { ($0.bound, $0.accuracy, "μ \(ExperimentPoint.number($0.photons))") } }
        }
        return plot.render().rendered
    }

    /// One client behaviour's sessions against images served.
    public struct AbortCurve: Sendable, Equatable {
        public struct Point: Sendable, Equatable {
            public let images: Int
            /// Fractions of the behaviour's sessions aborted, and certified, by `images` served.
            public let aborted: Double
            public let certified: Double
        }
        public let client: String
        public let sessions: Int
        public let curve: [Point]
    }

    /// For each client behaviour (sessions refused before light left out), the fraction of its
    /// sessions aborted and certified by k images served, at its block boundaries.
    public var abortCurves: [AbortCurve] {
        var clients: [String] = []
        for r in rows where r.outcome != .refused && !clients.contains(r.parameters.client) { clients.append(r.parameters.client) }
        return clients.map { c in
            let rs = rows.filter { $0.parameters.client == c && $0.outcome != .refused }
            let block = rs.map(\.parameters.blockImages).min() ?? 1
            let images = rs.map(\.parameters.images).max() ?? 0
            let n = Double(rs.count)
            let curve = stride(from: block, through: max(block, images), by: block).map { k in
                AbortCurve.Point(images: k, aborted: Double(rs.filter { ($0.abortImages ?? Int.max) <= k }.count) / n,
                                 certified: Double(rs.filter { ($0.certifiedImages ?? Int.max) <= k }.count) / n)
            }
            return AbortCurve(client: c, sessions: rs.count, curve: curve)
        }
    }

    var abortImagesPlot: String? {
        let curves = abortCurves
        guard curves.count > 1 || rows.contains(where: \.aborted) else { return nil }
        var plot = LinePlot(title: "The server's check against images served", xLabel: "images served", yLabel: "fraction of sessions")
        plot.width = 900
        for (k, c) in curves.enumerated() {
            let color = LinePlot.palette[k % LinePlot.palette.count]
            // Each behaviour's line narrower than the one before: curves that coincide (no abort) stay visible.
            var aborted = LinePlot.Series(label: "aborted: \(c.client) (\(c.sessions) sessions)", points: c.curve.map { (Double($0.images), $0.aborted) }, color: color)
            aborted.lineWidth = max(1.5, 6 - 1.5 * Double(k))
            plot.series.append(aborted)
            if c.curve.contains(where: { $0.certified > 0 }) {
                plot.series.append(.init(label: "certified: \(c.client)", points: c.curve.map { (Double($0.images), $0.certified) }, color: color, style: .dashed))
            }
        }
        return plot.render().rendered
    }

    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    public var html: String {
        let f = { (v: Double?) in v.map { String(format: "%.5g", $0) } ?? "—" }
        var table = ""
        for r in rows {
            let p = r.parameters
            table += "<tr><td>\(r.point + 1)</td><td>\(f(p.photons))</td><td>\(f(p.gain))</td><td>\(f(p.budget))</td><td>\(p.images)</td><td>\(esc(p.client))</td>"
            table += "<td>\(p.seed.map { "\($0)" } ?? "—")</td><td><code>\(esc(r.runId))</code></td><td>\(r.outcome.rawValue)</td>"
            // The accuracy's binomial standard error over the images served (the map's vertical spread).
            let served = max(1, r.imagesServed)
            table += "<td>\(r.accuracy.map { String(format: "%.2f ± %.2f %%", 100 * $0, 100 * ($0 * (1 - $0) / Double(served)).squareRoot()) } ?? "—")</td><td>\(r.certified ? "yes\(r.certifiedImages.map { " (\($0))" } ?? "")" : "no")</td>"
            table += "<td>\(r.abortImages.map { "block \(r.abortBlock ?? 0), \($0) images" } ?? "—")</td><td>\(f(r.transmittance))</td><td>\(f(r.excessNoise)) (≤ \(f(r.excessNoiseUpperBound)))</td>"
            table += "<td>\(f(r.weightLeakage)) (≤ \(f(r.weightLeakageUpperBound)))</td><td>\(f(r.dataLeakage))</td><td>\(String(format: "%.1f", r.seconds))</td></tr>\n"
        }
        var calibrations = ""
        for e in journal where e.kind == .calibrated || e.kind == .driftCheck {
            let what: String
            if let d = e.drift {
                let values = d.largest.map { String(format: "%@ %@: %.6g → %.6g %@ (%.3g σ)", $0.kind, $0.name, $0.old, $0.new, $0.unit, $0.sigmas) }
                what = "drift check of \(d.kinds.joined(separator: ", ")): <b>\(d.passed ? "passed" : "failed")</b>, \(esc(d.summary))<br>" + values.map(esc).joined(separator: "<br>")
            } else {
                what = esc(e.detail ?? "")
            }
            calibrations += "<tr><td>\(ISO8601DateFormatter().string(from: e.at))</td><td>\(e.point.map { "\($0 + 1)" } ?? "—")</td><td>\(esc(e.bench ?? ""))</td><td>\(what)</td></tr>\n"
        }
        var journalRows = ""
        for e in journal {
            journalRows += "<tr><td>\(ISO8601DateFormatter().string(from: e.at))</td><td>\(e.kind.rawValue)</td><td>\(e.point.map { "\($0 + 1)" } ?? "")</td><td>\(esc(e.runId ?? ""))</td><td>\(esc(e.detail ?? ""))</td></tr>\n"
        }
        let finished = journal.last?.kind == .finished
        let state = finished ? "finished" : "unfinished (continue with <code>qbench experiment run --resume \(esc(id))</code>)"
        let plotsHTML = plots.map(\.svg).joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>qbench experiment \(esc(id))</title>
        <style>
        body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 1200px; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f3f3f3; }
        pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
        .plots svg { display: block; margin: 1em 0; }
        </style></head><body>
        <h1>\(esc(plan.report.title ?? "qbench experiment \(plan.name)"))</h1>
        <p>Experiment <code>\(esc(id))</code> from <code>\(esc(plan.file))</code>: \(esc(plan.summary))</p>
        <p>\(rows.count) of \(plan.points.count) points measured; \(state). Every point is a recorded session:
        <code>qbench report RUN_ID</code> (server) and <code>qbench report RUN_ID --station client</code> show one in full.</p>
        <h2>Plots</h2>
        <div class="plots">\(plotsHTML.isEmpty ? "<p>No plot applies to the points measured so far.</p>" : plotsHTML)</div>
        <h2>Points</h2>
        <table><tr><th>#</th><th>μ</th><th>G</th><th>budget</th><th>images</th><th>client</th><th>seed</th><th>session</th><th>outcome</th>
        <th>accuracy ± s.e.</th><th>certified (images)</th><th>abort</th><th>T̂</th><th>ε̂ SNU (upper)</th><th>I_w bit/mode (upper)</th><th>I_x bit/symbol</th><th>s</th></tr>
        \(table)</table>
        <h2>Calibrations and drift checks</h2>
        <table><tr><th>time</th><th>before/after point</th><th>bench</th><th>what</th></tr>
        \(calibrations)</table>
        <h2>Plan</h2>
        <pre>\(esc(plan.text))</pre>
        <h2>Journal</h2>
        <table><tr><th>time</th><th>entry</th><th>point</th><th>session</th><th>detail</th></tr>
        \(journalRows)</table>
        </body></html>

        """
    }
}
