import Foundation
import Plots

/// A self-contained HTML report of one run (`qbench report RUN_ID`): result, per-block plots of
/// accuracy, T̂, ε̂ and leakage with their bounds, the journal, and the provenance (bench snapshot,
/// calibration records, model, code version, arguments).
public struct RunReport: Sendable {
    public let run: RunSummary
    public let blocks: [BlockRecord]
    public let journal: [JournalEntry]
    public let benchSnapshot: String?

    public init(run: RunSummary, blocks: [BlockRecord], journal: [JournalEntry], benchSnapshot: String?) {
        self.run = run; self.blocks = blocks; self.journal = journal; self.benchSnapshot = benchSnapshot
    }

    public init(database: RunDatabase, runId: String) throws {
        let run = try database.run(runId)
        let snapshot = try database.benchSnapshot(runId).map { String(decoding: $0, as: UTF8.self) }
        self.init(run: run, blocks: try database.blocks(runId), journal: try database.journalEntries(runId), benchSnapshot: snapshot)
    }

    func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    var plots: [String] {
        let x = blocks.map { Double($0.modes) }
        func series(_ label: String, _ ys: [Double], _ color: String, _ style: LinePlot.Series.Style = .line) -> LinePlot.Series {
            LinePlot.Series(label: label, points: zip(x, ys).map { (x: $0, y: $1) }, color: color, style: style)
        }
        // The client's records hold its accuracy; the server's hold none (it never sees a prediction).
        var acc = LinePlot(title: "Accuracy so far (the client's)", xLabel: "returned modes measured", yLabel: "accuracy")
        acc.series = [series("accuracy", blocks.map { $0.accuracy ?? .nan }, LinePlot.palette[0], .markers)]
        var t = LinePlot(title: "Transmittance T̂ (± z σ)", xLabel: "returned modes measured", yLabel: "T̂")
        t.logX = true
        t.series = [series("T̂", blocks.map(\.transmittance), LinePlot.palette[0]),
                    series("lower bound", blocks.map(\.transmittanceLowerBound), LinePlot.palette[1], .dashed)]
        var e = LinePlot(title: "Excess noise ε̂ (SNU)", xLabel: "returned modes measured", yLabel: "ε̂ (SNU)")
        e.logX = true
        e.series = [series("ε̂", blocks.map(\.excessNoise), LinePlot.palette[0]),
                    series("upper bound", blocks.map(\.excessNoiseUpperBound), LinePlot.palette[1], .dashed),
                    series("honest g/n", blocks.map { _ in (2 - 2 / run.configuration.gain) / 392 }, LinePlot.palette[2], .dashed)]
        var l = LinePlot(title: "Weight leakage I_w (bit/mode)", xLabel: "returned modes measured", yLabel: "bit per mode")
        l.logX = true
        l.series = [series("I_w", blocks.map(\.weightLeakageBitsPerMode), LinePlot.palette[0]),
                    series("upper bound", blocks.map(\.weightLeakageUpperBound), LinePlot.palette[1], .dashed),
                    series("lower bound", blocks.map(\.weightLeakageLowerBound), LinePlot.palette[3], .dashed)]
        l.referenceLines = [(run.configuration.budgetBitsPerMode, "budget")]
        let hasAccuracy = blocks.contains { $0.accuracy != nil }
        return (hasAccuracy ? [acc, t, e, l] : [t, e, l]).map { $0.render().rendered }
    }

    public var html: String {
        let c = run.configuration
        let r = run.result
        let f = { (v: Double) in String(format: "%.6g", v) }
        var rows = ""
        for b in blocks {
            rows += "<tr><td>\(b.blockIndex)</td><td>\(b.imagesDone)</td><td>\(b.accuracy.map { String(format: "%.2f %%", 100 * $0) } ?? "— (the client's)")</td><td>\(b.modes)</td>"
            rows += "<td>\(f(b.transmittance)) ± \(f(b.transmittanceStandardError))</td><td>\(f(b.excessNoise)) ± \(f(b.excessNoiseStandardError))</td>"
            rows += "<td>\(f(b.weightLeakageBitsPerMode)) [\(f(b.weightLeakageLowerBound)), \(f(b.weightLeakageUpperBound))]</td><td>\(esc(b.decision))</td></tr>\n"
        }
        var journalRows = ""
        for j in journal {
            journalRows += "<tr><td>\(j.sequence)</td><td>\(ISO8601DateFormatter().string(from: j.at))</td><td>\(j.kind.rawValue)</td><td>\(esc(j.step))</td><td>\(esc(j.detail ?? ""))</td></tr>\n"
        }
        let resultTable: String
        if let r {
            resultTable = """
            <table>
            <tr><th>status</th><td>\(run.status.rawValue)</td></tr>
            <tr><th>images</th><td>\(r.images)</td></tr>
            <tr><th>accuracy</th><td>\(r.accuracy.map { String(format: "%.2f %%", 100 * $0) } ?? "— (known to the client only)")</td></tr>
            <tr><th>aborted</th><td>\(r.aborted)\(r.abortReason.map { ": " + esc($0) } ?? "")</td></tr>
            <tr><th>certified</th><td>\(r.certified)</td></tr>
            <tr><th>modes</th><td>\(r.modes) in \(r.blocks) blocks</td></tr>
            <tr><th>T̂</th><td>\(f(r.transmittanceEstimate))</td></tr>
            <tr><th>ε̂ (upper bound)</th><td>\(f(r.excessNoiseEstimate)) (\(f(r.excessNoiseUpperBound))) SNU</td></tr>
            <tr><th>I_w (upper bound)</th><td>\(f(r.weightLeakageBitsPerMode)) (\(f(r.weightLeakageUpperBoundBitsPerMode))) bit/mode</td></tr>
            <tr><th>I_x</th><td>\(f(r.dataLeakageBits)) bit/symbol</td></tr>
            <tr><th>wall time</th><td>\(String(format: "%.1f s", r.seconds))</td></tr>
            </table>
            """
        } else {
            resultTable = "<p>No result: the run is \(run.status.rawValue).</p>"
        }
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>qbench run \(esc(run.id))</title>
        <style>
        body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; font-size: 13px; }
        th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
        th { background: #f3f3f3; }
        pre { background: #f7f7f7; padding: 1em; overflow-x: auto; font-size: 12px; }
        .plots svg { display: block; margin: 1em 0; }
        </style></head><body>
        <h1>qbench run \(esc(run.id))</h1>
        <p>Secure inference of \(c.images) MNIST test images on bench <b>\(esc(run.bench))</b>, G = \(f(c.gain)), μ = \(f(c.photonsPerMode)),
        client \(esc(c.client)), blocks of \(c.blockImages) images. Budget \(f(c.budgetBitsPerMode)) bit/mode at δ = \(f(c.delta)).</p>
        <h2>Result</h2>
        \(resultTable)
        <h2>Per block</h2>
        <div class="plots">\(plots.joined(separator: "\n"))</div>
        <table><tr><th>block</th><th>images</th><th>accuracy</th><th>modes</th><th>T̂ ± σ</th><th>ε̂ ± σ (SNU)</th><th>I_w [bounds] bit/mode</th><th>decision</th></tr>
        \(rows)</table>
        <h2>Provenance</h2>
        <table>
        <tr><th>run</th><td>\(esc(run.id)), started \(ISO8601DateFormatter().string(from: run.createdAt))\(run.finishedAt.map { ", finished " + ISO8601DateFormatter().string(from: $0) } ?? "")</td></tr>
        <tr><th>code version</th><td>\(esc(run.codeVersion))</td></tr>
        <tr><th>model</th><td>\(esc(run.modelId)) (\(esc(c.modelFile)))</td></tr>
        <tr><th>bench file</th><td>\(esc(c.benchFile))</td></tr>
        <tr><th>calibration records</th><td>\(run.calibrationIds.map(esc).joined(separator: "<br>"))</td></tr>
        <tr><th>arguments</th><td><code>\(esc(run.arguments.joined(separator: " ")))</code></td></tr>
        </table>
        <h3>Bench snapshot</h3>
        <pre>\(esc(benchSnapshot ?? "(none)"))</pre>
        <h2>Journal</h2>
        <table><tr><th>#</th><th>time</th><th>kind</th><th>step</th><th>detail</th></tr>
        \(journalRows)</table>
        </body></html>

        """
    }
}
