/// Where a triggered record goes when its reader consumes it as it arrives instead of keeping it:
/// tiles of every shot of the record over a range of slots. The receiver cuts each shot's slots at
/// multiples of `tileSlots` (a tile may span several of them and the last one of a shot may be
/// shorter) and hands the tiles over once each, in any order, from any thread.
///
/// A digitiser that returns a whole record (`fetch(timeout:)`) gives it as one tile; the twin
/// hands over each tile while its samples are still in the cache, so the record never crosses
/// main memory (`HomodyneReceiver.fetch(timeout:into:)`).
public protocol SampleSink: Sendable {
    /// The slot ranges the reader's work is cut at: every tile starts at a multiple of this.
    var tileSlots: Int { get }
    /// One tile: shot s's sample of slot `tile.slots.lowerBound + j` is `tile.samples[s · tile.stride + j]`,
    /// valid only during the call. Called concurrently for different tiles.
    func consume(_ tile: SampleTile)
}

/// Every shot of a record over one range of each shot's slots (see `SampleSink`).
public struct SampleTile: @unchecked Sendable {
    /// The range of slots within a shot.
    public let slots: Range<Int>
    /// Shots of the record (all of them).
    public let shots: Int
    /// Distance between one shot's samples and the next shot's, in samples (at least `slots.count`).
    public let stride: Int
    /// Shot 0's first sample of the range.
    public let samples: UnsafePointer<Float>

    public init(slots: Range<Int>, shots: Int, stride: Int, samples: UnsafePointer<Float>) {
        precondition(shots >= 1 && stride >= slots.count, "\(shots) shots of \(slots.count) slots \(stride) apart")
        self.slots = slots; self.shots = shots; self.stride = stride; self.samples = samples
    }
}

/// What a record handed to a `SampleSink` was: its size and how many of its samples sat at the
/// digitiser's rails (as `SampleBlock.clippedSamples`).
public struct StreamedRecord: Sendable, Equatable {
    public var shots: Int
    public var slotsPerShot: Int
    public var clippedSamples: Int
    public var samples: Int { shots * slotsPerShot }
    public init(shots: Int, slotsPerShot: Int, clippedSamples: Int) {
        self.shots = shots; self.slotsPerShot = slotsPerShot; self.clippedSamples = clippedSamples
    }
}

extension HomodyneReceiver {
    /// The whole record as one tile, after `fetch(timeout:)` (a digitiser that returns whole records).
    public func fetch(timeout: Duration, shots: Int, slotsPerShot: Int, into sink: any SampleSink) async throws -> StreamedRecord {
        let block = try await fetch(timeout: timeout)
        return try StreamedRecord.handOver(block, shots: shots, slotsPerShot: slotsPerShot, to: sink)
    }
}

extension StreamedRecord {
    /// Gives a fetched record to `sink` as one tile, if it holds exactly `shots` × `slotsPerShot` samples.
    public static func handOver(_ block: SampleBlock, shots: Int, slotsPerShot: Int, to sink: any SampleSink) throws -> StreamedRecord {
        let (needed, overflow) = shots.multipliedReportingOverflow(by: slotsPerShot)
        guard shots > 0, slotsPerShot > 0, !overflow, block.volts.count == needed else {
            throw DeviceError(.instrumentError, device: "homodyne receiver",
                              message: "the record holds \(block.volts.count) samples, not \(shots) shots of \(slotsPerShot) slots",
                              remedy: "check that the receiver's slot pattern and armed shot count match the measurement, then measure again")
        }
        block.volts.withUnsafeBufferPointer { y in
            sink.consume(SampleTile(slots: 0..<slotsPerShot, shots: shots, stride: slotsPerShot, samples: y.baseAddress!))
        }
        return StreamedRecord(shots: shots, slotsPerShot: slotsPerShot, clippedSamples: block.clippedSamples)
    }
}
