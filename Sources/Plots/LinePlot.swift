import Foundation

/// An x–y plot with axes, ticks, a legend and optional error bands: calibration fits (data
/// points and the fitted curve), per-block run traces (estimate, bounds, budget line).
public struct LinePlot: Sendable {
    public struct Series: Sendable {
        public var label: String
        public var points: [(x: Double, y: Double)]
        public var color: String
        public var style: Style
        /// Stroke width of a line: a wider line under a narrower one keeps both visible where they coincide.
        public var lineWidth = 1.5
        public enum Style: Sendable { case line, dashed, markers, linesAndMarkers }
        public init(label: String, points: [(x: Double, y: Double)], color: String, style: Style = .line) {
            self.label = label; self.points = points; self.color = color; self.style = style
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series] = []
    /// Horizontal reference lines (value, label), e.g. a leakage budget.
    public var referenceLines: [(y: Double, label: String)] = []
    /// Small text labels at data coordinates (e.g. the data leakage beside a chosen point).
    public var annotations: [(x: Double, y: Double, text: String)] = []
    public var logX = false
    public var width = 720.0, height = 420.0

    public init(title: String, xLabel: String, yLabel: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
    }

    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    public func render() -> SVGDocument {
        var svg = SVGDocument(width: width, height: height)
        // The legend's column is as wide as its longest label (11 px text, about 6.3 px a character).
        let longest = series.map(\.label.count).max() ?? 0
        let left = 80.0, right = max(180.0, 46 + 6.3 * Double(longest)), top = 40.0, bottom = 56.0
        let pw = width - left - right, ph = height - top - bottom
        let xs = series.flatMap { $0.points.map(\.x) }.filter { $0.isFinite && (!logX || $0 > 0) }
        let ys = (series.flatMap { $0.points.map(\.y) } + referenceLines.map(\.y)).filter(\.isFinite)
        svg.text(title, x: left + pw / 2, y: 22, size: 15, anchor: .middle, bold: true)
        guard let x0 = xs.min(), let x1 = xs.max(), let y0 = ys.min(), let y1 = ys.max() else {
            svg.text("no data", x: left + pw / 2, y: top + ph / 2, anchor: .middle)
            return svg
        }
        let tx = { (x: Double) -> Double in logX ? log10(x) : x }
        // Markers keep clear of the frame; a curve runs from edge to edge.
        let markers = series.contains { $0.style == .markers || $0.style == .linesAndMarkers }
        let (ax0, ax1) = Axis.padded(tx(x0), tx(x1), pad: markers ? 0.04 : 0)
        let (ay0, ay1) = Axis.padded(y0, y1, pad: 0.06)
        let px = { (x: Double) in left + (tx(x) - ax0) / (ax1 - ax0) * pw }
        let py = { (y: Double) in top + ph - (y - ay0) / (ay1 - ay0) * ph }
        svg.rect(x: left, y: top, width: pw, height: ph, fill: "none", stroke: "#444")
        for t in Axis.ticks(ay0, ay1) {
            svg.line(x1: left, y1: py(t), x2: left + pw, y2: py(t), stroke: "#e4e4e4")
            svg.text(Axis.label(t), x: left - 6, y: py(t) + 4, size: 11, anchor: .end)
        }
        let xticks = logX ? Axis.decades(ax0, ax1).map { pow(10, $0) } : Axis.ticks(ax0, ax1)
        for t in xticks {
            svg.line(x1: px(t), y1: top, x2: px(t), y2: top + ph, stroke: "#e4e4e4")
            svg.text(Axis.label(t), x: px(t), y: top + ph + 16, size: 11, anchor: .middle)
        }
        svg.text(xLabel, x: left + pw / 2, y: height - 14, size: 12, anchor: .middle)
        svg.text(yLabel, x: 18, y: top + ph / 2, size: 12, anchor: .middle, rotate: -90)
        for ref in referenceLines {
            svg.line(x1: left, y1: py(ref.y), x2: left + pw, y2: py(ref.y), stroke: "#888", width: 1.2, dash: "6,4")
            svg.text(ref.label, x: left + pw - 4, y: py(ref.y) - 4, size: 10, anchor: .end, fill: "#555")
        }
        for (k, s) in series.enumerated() {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }.map { (px($0.x), py($0.y)) }
            switch s.style {
            case .line: svg.polyline(pts, stroke: s.color, width: s.lineWidth)
            case .dashed: svg.polyline(pts, stroke: s.color, width: s.lineWidth, dash: "5,3")
            case .markers: for p in pts { svg.circle(cx: p.0, cy: p.1, r: 3.2, fill: s.color) }
            case .linesAndMarkers:
                svg.polyline(pts, stroke: s.color, width: 1.2)
                for p in pts { svg.circle(cx: p.0, cy: p.1, r: 3.2, fill: s.color) }
            }
            let ly = top + 14 + Double(k) * 18
            if s.style == .markers || s.style == .linesAndMarkers {
                if s.style == .linesAndMarkers { svg.line(x1: left + pw + 12, y1: ly - 4, x2: left + pw + 30, y2: ly - 4, stroke: s.color, width: 1.2) }
                svg.circle(cx: left + pw + 21, cy: ly - 4, r: 3.2, fill: s.color)
            } else {
                svg.line(x1: left + pw + 12, y1: ly - 4, x2: left + pw + 30, y2: ly - 4, stroke: s.color, width: 2, dash: s.style == .dashed ? "5,3" : nil)
            }
            svg.text(s.label, x: left + pw + 36, y: ly, size: 11)
        }
        for a in annotations where a.x.isFinite && a.y.isFinite && (!logX || a.x > 0) {
            svg.text(a.text, x: px(a.x) + 4, y: py(a.y) - 6, size: 9, fill: "#333")
        }
        return svg
    }
}

/// Axis arithmetic shared by the plots.
enum Axis {
    static func padded(_ a: Double, _ b: Double, pad: Double) -> (Double, Double) {
        if a == b { return (a - max(abs(a) * 0.1, 1e-12), b + max(abs(b) * 0.1, 1e-12)) }
        let d = (b - a) * pad
        return (a - d, b + d)
    }

    /// About five round ticks between a and b.
    static func ticks(_ a: Double, _ b: Double) -> [Double] {
        let raw = (b - a) / 5
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var t = ceil(a / step) * step
        var out: [Double] = []
        while t <= b + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    static func decades(_ a: Double, _ b: Double) -> [Double] {
        let lo = Int(ceil(a)), hi = Int(floor(b))
        return lo <= hi ? (lo...hi).map(Double.init) : [a, b]
    }

    static func label(_ v: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e5 || a < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%g", (v * 1e6).rounded() / 1e6)
    }
}
