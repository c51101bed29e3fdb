import Foundation

/// A labelled grid of values (e.g. accuracy over photon number × gain) with per-cell text.
public struct Heatmap: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xValues: [String]
    public var yValues: [String]
    /// values[y][x], mapped to colour between `range`.
    public var values: [[Double]]
    public var cellText: [[String]]
    public var range: (Double, Double)
    public var legend: String
    /// Cells to outline (values[y][x] flagged), e.g. operating points that meet every target.
    public var highlighted: [[Bool]] = []

    public init(title: String, xLabel: String, yLabel: String, xValues: [String], yValues: [String],
                values: [[Double]], cellText: [[String]], range: (Double, Double), legend: String) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
        self.xValues = xValues; self.yValues = yValues
        self.values = values; self.cellText = cellText; self.range = range; self.legend = legend
    }

    /// White → blue colour ramp.
    static func colour(_ t: Double) -> String {
        let u = min(1, max(0, t))
        let r = Int(247 - u * (247 - 8)), g = Int(251 - u * (251 - 69)), b = Int(255 - u * (255 - 148))
        return String(format: "#%02x%02x%02x", r, g, b)
    }

    public func render() -> SVGDocument {
        let cellW = 112.0, cellH = 58.0, left = 90.0, top = 50.0
        let legendLines = legend.split(separator: "\n").map(String.init)
        let width = max(left + cellW * Double(xValues.count) + 30, 620)
        let height = top + cellH * Double(yValues.count) + 56 + 14 * Double(legendLines.count)
        var svg = SVGDocument(width: width, height: height)
        svg.text(title, x: width / 2, y: 24, size: 15, anchor: .middle, bold: true)
        for (yi, row) in values.enumerated() {
            for (xi, v) in row.enumerated() {
                let t = (v - range.0) / (range.1 - range.0)
                let x = left + Double(xi) * cellW, y = top + Double(yi) * cellH
                svg.rect(x: x, y: y, width: cellW, height: cellH, fill: Heatmap.colour(t), stroke: "#fff", title: cellText[yi][xi])
                if yi < highlighted.count, xi < highlighted[yi].count, highlighted[yi][xi] {
                    svg.rect(x: x + 2, y: y + 2, width: cellW - 4, height: cellH - 4, fill: "none", stroke: "#e8a000")
                    svg.rect(x: x + 3, y: y + 3, width: cellW - 6, height: cellH - 6, fill: "none", stroke: "#e8a000")
                }
                let lines = cellText[yi][xi].split(separator: "\n").map(String.init)
                for (k, line) in lines.enumerated() {
                    svg.text(line, x: x + cellW / 2, y: y + 18 + Double(k) * 14, size: k == 0 ? 13 : 10.5, anchor: .middle,
                             fill: t > 0.55 ? "#fff" : "#000", bold: k == 0)
                }
            }
            svg.text(yValues[yi], x: left - 8, y: top + Double(yi) * cellH + cellH / 2 + 4, size: 11, anchor: .end)
        }
        for (xi, label) in xValues.enumerated() {
            svg.text(label, x: left + Double(xi) * cellW + cellW / 2, y: top + cellH * Double(yValues.count) + 16, size: 11, anchor: .middle)
        }
        svg.text(xLabel, x: left + cellW * Double(xValues.count) / 2, y: top + cellH * Double(yValues.count) + 36, size: 12, anchor: .middle)
        svg.text(yLabel, x: 16, y: top + cellH * Double(yValues.count) / 2, size: 12, anchor: .middle, rotate: -90)
        for (k, line) in legendLines.enumerated() {
            svg.text(line, x: 12, y: height - 10 - 14 * Double(legendLines.count - 1 - k), size: 10.5, fill: "#444")
        }
        return svg
    }
}
