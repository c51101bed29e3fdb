import BenchKit
import Calibrate
import Foundation
import NumericsKit
import SecureInference

/// One layer of the network as light: its frame (every row's n modes followed by v vacuum slots),
/// the intended amplitudes the server's check compares against, and the drive waveforms.
struct LayerFrame: Sendable {
    let layer: EncodedLayer
    let layout: FrameLayout
    let re: [Float]
    let im: [Float]
    var drives: TransmitterModel.Encoded?

    /// The most slots one shot's frame may span: far above a 784-row layer with 392 vacuum slots
    /// per row (about 6·10^5), far below what allocating the frame's arrays could survive.
    static let maximumSlotsPerShot = 1 << 26

    public struct FrameError: Error, CustomStringConvertible, Equatable {
        public let vacuumSlotsPerRow: Int
        public let rows: Int
        public let modesPerRow: Int
        public var description: String {
            vacuumSlotsPerRow < 0
                ? "vacuum slots per row must be 0 or more, not \(vacuumSlotsPerRow): pass --vacuum-slots with e.g. \(modesPerRow) (one per signal mode)"
                : "\(vacuumSlotsPerRow) vacuum slots per row make a frame of \(rows) rows too long (more than \(LayerFrame.maximumSlotsPerShot) slots per shot): pass --vacuum-slots with at most \(LayerFrame.maximumSlotsPerShot / max(rows, 1) - modesPerRow), e.g. \(modesPerRow)"
        }
    }

    /// Whether `v` vacuum slots per row give a frame this layer's shape can carry (v ≥ 0, no
    /// overflow, at most `maximumSlotsPerShot` slots).
    static func check(rows: Int, modesPerRow: Int, vacuumSlotsPerRow v: Int) throws(FrameError) {
        let error = FrameError(vacuumSlotsPerRow: v, rows: rows, modesPerRow: modesPerRow)
        guard v >= 0 else { throw error }
        let (perRow, o1) = modesPerRow.addingReportingOverflow(v)
        let (perShot, o2) = perRow.multipliedReportingOverflow(by: rows)
        guard !o1, !o2, perShot <= maximumSlotsPerShot else { throw error }
    }

    init(weights: Matrix, photonsPerMode mu: Double, vacuumSlotsPerRow v: Int) throws {
        layer = try EncodedLayer(weights: weights, photonsPerMode: mu)
        try Self.check(rows: weights.rows, modesPerRow: layer.modesPerRow, vacuumSlotsPerRow: v)
        layout = FrameLayout(rows: weights.rows, modesPerRow: layer.modesPerRow, vacuumSlotsPerRow: v)
        var re = [Float](repeating: 0, count: layout.slotsPerShot), im = re
        for r in 0..<weights.rows {
            let alpha = layer.amplitudes(row: r)
            for j in alpha.indices {
                re[r * layout.slotsPerRow + j] = Float(alpha[j].real)
                im[r * layout.slotsPerRow + j] = Float(alpha[j].imaginary)
            }
        }
        self.re = re; self.im = im
    }

    /// A measurement frame of this layer with a fresh random X/P pattern for `shots` shots.
    func measurement<R: RandomNumberGenerator>(shots: Int, rng: inout R) -> MeasurementFrame {
        MeasurementFrame(layout: layout, re: re, im: im,
                         pattern: MeasurementFrame.randomPattern(layout: layout, shots: shots, rng: &rng), patternShots: shots)
    }

    /// Encodes every layer with one shared VOA setting (the one the weakest-field layer needs), so
    /// the interleaved back-to-back reference applies to all of them alike.
    static func encodeAll(_ frames: inout [LayerFrame], transmitter: TransmitterModel) throws {
        let n = frames.map { transmitter.unitFieldPhotons(forPeakOf: $0.re, $0.im) }.max() ?? 1
        for k in frames.indices { frames[k].drives = try transmitter.encode(re: frames[k].re, im: frames[k].im, unitFieldPhotons: n) }
    }
}
