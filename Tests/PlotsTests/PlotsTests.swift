import Foundation
import Testing
@testable import Plots

@Suite("SVG plots")
struct PlotsTests {
    @Test(arguments: [(0.0, 1.0), (-3.2, 17.9), (0.9990, 1.0004), (1e-6, 3e-6), (-5.0, -1.0)])
    func ticksAreRoundAndInsideTheRange(a: Double, b: Double) {
        let t = Axis.ticks(a, b)
        #expect(t.count >= 3 && t.count <= 11)
        #expect(t.allSatisfy { $0 >= a - 1e-12 && $0 <= b + 1e-12 })
        let steps = zip(t.dropFirst(), t).map { $0 - $1 }
        #expect(steps.allSatisfy { abs($0 - steps[0]) <= 1e-9 * abs(steps[0]) })
    }

    @Test func textIsEscaped() {
        var svg = SVGDocument(width: 10, height: 10)
        svg.text("a < b & c > d", x: 0, y: 0)
        #expect(svg.rendered.contains("a &lt; b &amp; c &gt; d"))
        #expect(!svg.rendered.contains("a < b"))
    }

    @Test func linePlotDrawsEverySeriesAndReference() {
        var plot = LinePlot(title: "t", xLabel: "x", yLabel: "y")
        plot.series = [.init(label: "fit", points: [(1, 2), (2, 3), (3, 5)], color: "#123456"),
                       .init(label: "data", points: [(1, 2.1), (2, 2.9)], color: "#654321", style: .markers)]
        plot.referenceLines = [(4, "budget")]
        let s = plot.render().rendered
        #expect(s.contains("stroke=\"#123456\""))
        #expect(s.components(separatedBy: "fill=\"#654321\"").count - 1 == 3)  // 2 markers + legend
        #expect(s.contains(">budget<"))
    }

    @Test func emptyPlotSaysSo() {
        #expect(LinePlot(title: "t", xLabel: "x", yLabel: "y").render().rendered.contains("no data"))
    }

    @Test func heatmapHasOneCellPerValue() {
        let h = Heatmap(title: "t", xLabel: "x", yLabel: "y", xValues: ["1", "2", "3"], yValues: ["a", "b"],
                        values: [[0, 0.5, 1], [1, 0.5, 0]], cellText: [["p", "q", "r"], ["s", "t", "u"]], range: (0, 1), legend: "L")
        let s = h.render().rendered
        #expect(s.components(separatedBy: "<title>").count - 1 == 6)
        #expect(s.contains(Heatmap.colour(1)) && s.contains(Heatmap.colour(0)))
    }
}
