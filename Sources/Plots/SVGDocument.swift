import Foundation

/// A minimal SVG writer: the plots qbench puts beside calibration records, maps and run reports
/// are plain, self-contained SVG files (no scripts, no external fonts).
public struct SVGDocument: Sendable {
    public let width: Double
    public let height: Double
    private var elements: [String] = []

    public init(width: Double, height: Double) { self.width = width; self.height = height }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String, stroke: String? = nil, title: String? = nil) {
        let s = stroke.map { " stroke=\"\($0)\"" } ?? ""
        let t = title.map { "<title>\(escape($0))</title>" } ?? ""
        elements.append("<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(fill)\"\(s)>\(t)</rect>")
    }

    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String = "#000", width: Double = 1, dash: String? = nil) {
        let d = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        elements.append("<line x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\"\(d)/>")
    }

    public mutating func polyline(_ points: [(Double, Double)], stroke: String, width: Double = 1.5, dash: String? = nil) {
        guard !points.isEmpty else { return }
        let d = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        let p = points.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
        elements.append("<polyline points=\"\(p)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(f(width))\"\(d)/>")
    }

    public mutating func circle(cx: Double, cy: Double, r: Double, fill: String) {
        elements.append("<circle cx=\"\(f(cx))\" cy=\"\(f(cy))\" r=\"\(f(r))\" fill=\"\(fill)\"/>")
    }

    public enum Anchor: String, Sendable { case start, middle, end }

    public mutating func text(_ s: String, x: Double, y: Double, size: Double = 12, anchor: Anchor = .start,
                              fill: String = "#000", rotate: Double? = nil, bold: Bool = false) {
        let r = rotate.map { " transform=\"rotate(\(f($0)) \(f(x)) \(f(y)))\"" } ?? ""
        let w = bold ? " font-weight=\"bold\"" : ""
        elements.append("<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(f(size))\" text-anchor=\"\(anchor.rawValue)\" fill=\"\(fill)\"\(w)\(r)>\(escape(s))</text>")
    }

    public var rendered: String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="#fff"/>
        \(elements.joined(separator: "\n"))
        </svg>

        """
    }

    public func write(to url: URL) throws { try rendered.write(to: url, atomically: true, encoding: .utf8) }

    func f(_ v: Double) -> String { String(format: "%.2f", v) }
    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
