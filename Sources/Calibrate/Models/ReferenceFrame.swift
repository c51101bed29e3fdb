import BenchKit
import Foundation
import NumericsKit
import SecureInference

/// A frame of light the server designs, with its measurement plan: the intended amplitude of every
/// slot (√photons at the client input; zero in vacuum slots) and what the server's receiver does in
/// each slot (X, P, or vacuum with its input blocked). Shared by the calibrations that look at
/// returned or back-to-back light and by the protocol run.
public struct MeasurementFrame: Sendable {
    public let layout: FrameLayout
    public let re: [Float]
    public let im: [Float]
    /// Per slot of one shot, for `patternShots` shots (shot k uses segment k mod patternShots; a
    /// receiver plays one segment for a whole burst, so frames sent as one burst use 1).
    public let pattern: [SlotKind]
    public let patternShots: Int

    public init(layout: FrameLayout, re: [Float], im: [Float], pattern: [SlotKind], patternShots: Int) {
        // Frames are built by the routines and the engine from one layout: internal invariant.
        precondition(re.count == layout.slotsPerShot && im.count == layout.slotsPerShot, "amplitudes must cover one shot")
        precondition(pattern.count == layout.slotsPerShot * patternShots, "the pattern must cover \(patternShots) shots")
        self.layout = layout; self.re = re; self.im = im; self.pattern = pattern; self.patternShots = patternShots
    }

    /// Gaussian-modulated amplitudes of mean photon number μ in the signal slots (each quadrature
    /// N(0, μ/2)), a random X/P choice per signal slot, vacuum slots per the layout.
    public static func gaussian(layout: FrameLayout, photons mu: Double, patternShots: Int, seed: UInt64) -> MeasurementFrame {
        var rng = Xoshiro256(seed: seed, stream: 0xF4A3E)
        let g = Gaussian.Sampler()
        let s = (mu / 2).squareRoot()
        var re = [Float](repeating: 0, count: layout.slotsPerShot), im = re
        for k in 0..<layout.slotsPerShot where layout.isSignal(slot: k) {
            re[k] = Float(s * g.next(&rng)); im[k] = Float(s * g.next(&rng))
        }
        return MeasurementFrame(layout: layout, re: re, im: im,
                                pattern: randomPattern(layout: layout, shots: patternShots, rng: &rng), patternShots: patternShots)
    }

    /// X or P at random (one fair bit per signal slot, in slot order), vacuum where the layout says.
    public static func randomPattern<R: RandomNumberGenerator>(layout: FrameLayout, shots: Int, rng: inout R) -> [SlotKind] {
        // Every row of every shot starts with its signal slots.
        SlotKind.randomPattern(rows: layout.rows * shots, modesPerRow: layout.modesPerRow, slotsPerRow: layout.slotsPerRow) { rng.next() }
    }

    /// The server's sums of `shots` shots of this frame (starting at shot `firstShot` of the
    /// pattern), taken from the receiver's record tile by tile as it is handed over: the same sums
    /// as `accumulate` on the whole record, to the bit (`StreamedShots`).
    public func sink(shots: Int, firstShot: Int = 0) -> BurstSink { BurstSink(self, shots: shots, firstShot: firstShot) }

    /// A burst's record going into the server's sums as the receiver hands it over (`sink(shots:)`).
    public final class BurstSink: SampleSink {
        public var tileSlots: Int { ReturnedLightStatistics.slotsPerUnit }
        public let shots: Int
        let patternShots: Int
        /// Shot `first` and every patternShots-th after it play the same segment of the pattern.
        let segments: [(first: Int, sums: StreamedShots)]

        init(_ frame: MeasurementFrame, shots: Int, firstShot: Int) {
            precondition(shots > 0, "a burst has shots")
            let codes = SlotKind.codes(frame.pattern)
            self.shots = shots
            patternShots = frame.patternShots
            segments = frame.segments(shots: shots, firstShot: firstShot).map { s in
                (s.first, StreamedShots(codes: Array(codes[s.codes]), alphaRe: frame.re, alphaIm: frame.im, shots: s.shots))
            }
        }

        public func consume(_ tile: SampleTile) {
            for (first, sums) in segments {
                sums.add(slots: tile.slots, shots: (tile.shots - first + patternShots - 1) / patternShots,
                         samples: tile.samples + first * tile.stride, shotStride: patternShots * tile.stride)
            }
        }

        /// Adds the burst to `stats` once every tile has arrived (segments in order, as `accumulate`).
        public func finish(into stats: inout ReturnedLightStatistics) throws(StreamedShots.IncompleteBurst) {
            var updated = stats
            for (_, sums) in segments { try sums.finish(into: &updated) }
            stats = updated
        }
    }

    /// A receiver delivered fewer samples than the shots it was armed for (a misbehaving
    /// instrument or driver).
    public struct ShortRecord: Error, CustomStringConvertible, Equatable {
        public let samples: Int
        public let shots: Int
        public let slotsPerShot: Int
        public var description: String {
            "the receiver returned \(samples) samples for \(shots) shots of \(slotsPerShot) slots (\(shots * slotsPerShot) expected): check the receiver's record length and trigger count (`qbench devices`), then retry"
        }
    }

    /// `accumulate`, refusing a record shorter than the shots (samples from an instrument).
    public func accumulate(checked samples: [Float], shots: Int, firstShot: Int = 0, into stats: inout ReturnedLightStatistics) throws(ShortRecord) {
        let (needed, overflow) = shots.multipliedReportingOverflow(by: layout.slotsPerShot)
        guard shots >= 0, !overflow, samples.count >= needed else {
            throw ShortRecord(samples: samples.count, shots: shots, slotsPerShot: layout.slotsPerShot)
        }
        accumulate(samples: samples, shots: shots, firstShot: firstShot, into: &stats)
    }

    /// Adds the receiver's samples of `shots` consecutive shots (starting at shot `firstShot` of the
    /// pattern) to `stats`: X and P slots with their intended amplitudes, vacuum slots as the in-band
    /// reference. The caller guarantees the count (instrument data goes through `accumulate(checked:)`).
    /// The shots of each pattern segment go in together (`ReturnedLightStatistics.addShots`, on every
    /// core); the result does not depend on the number of cores.
    public func accumulate(samples: [Float], shots: Int, firstShot: Int = 0, into stats: inout ReturnedLightStatistics) {
        let n = layout.slotsPerShot
        precondition(samples.count >= shots * n, "\(samples.count) samples for \(shots) shots of \(n) slots")
        guard shots > 0, n > 0 else { return }
        let codes = SlotKind.codes(pattern)
        samples.withUnsafeBufferPointer { y in codes.withUnsafeBufferPointer { c in
            re.withUnsafeBufferPointer { r in im.withUnsafeBufferPointer { i in
                for s in segments(shots: shots, firstShot: firstShot) {
                    stats.addShots(samples: UnsafeBufferPointer(rebasing: y[(s.first * n)...]), shots: s.shots,
                                   shotStride: patternShots * n, codes: UnsafeBufferPointer(rebasing: c[s.codes]), alphaRe: r, alphaIm: i)
                }
            } }
        } }
    }

    /// How `shots` consecutive shots starting at shot `firstShot` of the pattern play its segments:
    /// shot `first` and every patternShots-th after it (`shots` of them) play the segment whose
    /// codes are `codes` of the pattern's.
    func segments(shots: Int, firstShot: Int) -> [(first: Int, shots: Int, codes: Range<Int>)] {
        let n = layout.slotsPerShot
        return (0..<min(shots, patternShots)).map { first in
            let segment = (firstShot + first) % patternShots
            return (first, (shots - first + patternShots - 1) / patternShots, (segment * n)..<((segment + 1) * n))
        }
    }
}
