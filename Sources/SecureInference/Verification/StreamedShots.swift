import Synchronization

/// The server's sums of one burst taken as the receiver hands its record over in tiles (every
/// shot over a range of the pattern's slots, in any order, from any thread), so the record need
/// not be kept: each tile's units of `ReturnedLightStatistics.slotsPerUnit` slots are summed as it
/// arrives and `finish` merges them in unit order, which gives exactly the bits of `addShots` on
/// the whole record.
///
/// A tile must start at a unit's first slot and end at a unit's end or the pattern's last slot;
/// `finish` refuses a burst whose units did not all arrive exactly once, or that had a tile cut
/// elsewhere: the check never runs on part of a burst.
public final class StreamedShots: Sendable {
    public let codes: [UInt8], alphaRe: [Float], alphaIm: [Float]
    public let shots: Int
    public var slots: Int { codes.count }
    private let units: Mutex<Units>

    private struct Units {
        /// Units a tile has taken (summed, or being summed), and their sums once done.
        var claimed: [Bool]
        var sums: [ShotSums?]
        var defect: String?
    }

    /// What went wrong with the tiles of a burst.
    public struct IncompleteBurst: Error, CustomStringConvertible {
        public let description: String
    }

    /// One burst of `shots` shots measured with the pattern `codes` (0 X, 1 P, 2 vacuum per slot)
    /// and the intended amplitudes per slot.
    public init(codes: [UInt8], alphaRe: [Float], alphaIm: [Float], shots: Int) {
        precondition(alphaRe.count == codes.count && alphaIm.count == codes.count, "one shot's slots")
        precondition(shots > 0, "at least one shot")
        self.codes = codes; self.alphaRe = alphaRe; self.alphaIm = alphaIm; self.shots = shots
        let count = (codes.count + ReturnedLightStatistics.slotsPerUnit - 1) / ReturnedLightStatistics.slotsPerUnit
        units = Mutex(Units(claimed: Array(repeating: false, count: count), sums: Array(repeating: nil, count: count), defect: nil))
    }

    /// Sums one tile: slots `range` of the burst's `shots` shots (the tile's count, checked), shot
    /// s's sample of slot range.lowerBound + j at samples[s · shotStride + j]. A tile of another
    /// shot count, cut off the units, outside the pattern, or holding a unit already summed marks
    /// the burst incomplete (nothing of it is summed).
    public func add(slots range: Range<Int>, shots tileShots: Int, samples: UnsafePointer<Float>, shotStride: Int) {
        let unit = ReturnedLightStatistics.slotsPerUnit
        guard tileShots == shots else {
            fail("a tile holds \(tileShots) shots of a \(shots)-shot burst")
            return
        }
        guard range.lowerBound >= 0, range.upperBound <= slots, !range.isEmpty, range.lowerBound % unit == 0,
              range.upperBound % unit == 0 || range.upperBound == slots, shotStride >= range.count else {
            fail("a tile of slots \(range.lowerBound)..<\(range.upperBound) (stride \(shotStride)) does not cover whole units of \(unit) slots of the \(slots)-slot pattern")
            return
        }
        let first = range.lowerBound / unit, last = (range.upperBound + unit - 1) / unit
        // Claim the units first: a tile that overlaps one already given is refused whole.
        let claimed = units.withLock { u -> Bool in
            guard !u.claimed[first..<last].contains(true) else {
                u.defect = u.defect ?? "slots \(range.lowerBound)..<\(range.upperBound) were handed over twice"
                return false
            }
            for k in first..<last { u.claimed[k] = true }
            return true
        }
        guard claimed else { return }
        let parts = codes.withUnsafeBufferPointer { c in alphaRe.withUnsafeBufferPointer { r in alphaIm.withUnsafeBufferPointer { i in
            ReturnedLightStatistics.unitSums(SharedPattern(codes: c, re: r, im: i), samples: samples, slots: range, shots: shots, shotStride: shotStride)
        } } }
        units.withLock { u in for (k, p) in parts.enumerated() { u.sums[first + k] = p } }
    }

    /// Adds the burst to `stats`, in unit order, once every unit has arrived exactly once.
    public func finish(into stats: inout ReturnedLightStatistics) throws(IncompleteBurst) {
        let (sums, defect) = units.withLock { ($0.sums, $0.defect) }
        if let defect { throw IncompleteBurst(description: "the receiver's record of the burst is unusable: \(defect)") }
        let missing = sums.indices.filter { sums[$0] == nil }
        guard missing.isEmpty else {
            let unit = ReturnedLightStatistics.slotsPerUnit
            throw IncompleteBurst(description: "the receiver handed over \(sums.count - missing.count) of the burst's \(sums.count) ranges of \(unit) slots (slots from \(missing[0] * unit) missing)")
        }
        stats.merge(units: sums.map { $0! })
    }

    private func fail(_ message: String) {
        units.withLock { $0.defect = $0.defect ?? message }
    }
}
