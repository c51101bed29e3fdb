/// The server receiver's last two fetched records, kept to be written again by later bursts.
///
/// A block's bursts come in a few sizes (the client's full bursts, its last short one, the
/// back-to-back reference), so a burst takes the smallest kept record that holds it: shrinking
/// an array keeps its pages, but growing one back fills the new part with zeros first, which for a
/// short burst followed by a full one was tens of megabytes written serially per block. Two
/// records bound the memory to the largest burst plus one more.
struct SpareRecords {
    private var kept: [[Float]] = []
    /// The capacities of the kept records (tests).
    var capacities: [Int] { kept.map(\.capacity) }

    /// The kept record of smallest capacity that holds `count` samples (short bursts keep to the
    /// short record, full ones to the full record); empty (the caller allocates) when none holds
    /// it, or when only one is kept and it is twice the size needed or more (a short burst starts
    /// a second record instead of shrinking the full one). The record is no longer kept.
    private mutating func take(count: Int) -> [Float] {
        guard let pick = kept.indices.filter({ kept[$0].capacity >= count }).min(by: { kept[$0].capacity < kept[$1].capacity }) else {
            kept.removeAll()  // too small for this burst, and for the bursts to come: let them go
            return []
        }
        if kept.count < 2, kept[pick].capacity >= 2 * count { return [] }
        return kept.remove(at: pick)
    }

    /// Samples written as zeros so far to grow a kept record back (a serial fill the choice in
    /// `take` keeps small).
    private(set) var zeroFilled = 0

    /// A record of exactly `count` samples for the next burst to write: a kept one resized within
    /// its capacity, or fresh (uninitialised: every sample is written by the burst).
    mutating func record(count: Int) -> [Float] {
        var samples = take(count: count)
        if samples.capacity < count {
            samples = [Float](unsafeUninitializedCapacity: count) { _, initialised in initialised = count }
        } else if samples.count > count {
            samples.removeLast(samples.count - count)
        } else if samples.count < count {
            zeroFilled += count - samples.count
            samples.append(contentsOf: repeatElement(0, count: count - samples.count))
        }
        return samples
    }

    /// Keeps `record` for a later burst; of three, the one of smallest capacity goes.
    mutating func give(_ record: [Float]) {
        kept.append(record)
        if kept.count > 2, let smallest = kept.indices.min(by: { kept[$0].capacity < kept[$1].capacity }) {
            kept.remove(at: smallest)
        }
    }
}
