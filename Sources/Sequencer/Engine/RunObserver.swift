import BenchKit
import Calibrate
import Foundation

/// Set from signal handlers (SIGINT, SIGTERM); the engine stops at the next safe point.
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var reason: String?
    public init() {}
    public func request(_ why: String) { lock.lock(); if reason == nil { reason = why }; lock.unlock() }
    public var requested: String? { lock.lock(); defer { lock.unlock() }; return reason }
}

/// Receives the server's returned samples of every client burst: `shots` consecutive images from
/// `firstImage`, measured with `frame` (intended amplitudes, X/P/vacuum pattern).
public protocol ReturnedLightTap: Sendable {
    func returned(block: Int, layer: Int, firstImage: Int, frame: MeasurementFrame, samples: [Float], shots: Int)
}

/// What the engine reports while it runs (progress bar, logs).
public protocol RunObserver: Sendable {
    func started(runId: String, plan: [PlanStep])
    func step(_ text: String)
    func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?)
    func block(_ record: BlockRecord)
    /// Called by a station after each committed block, when its instruments are idle between
    /// blocks: an observer may read `bench` then (the live page refreshes its device table). Never
    /// called while a block is measuring, so a query cannot land in the middle of an acquisition.
    func afterBlock(_ block: Int, bench: Bench) async
}

extension RunObserver {
    public func started(runId: String, plan: [PlanStep]) {}
    public func step(_ text: String) {}
    public func progress(imagesDone: Int, images: Int, modes: Int, modesPerSecond: Double, excessNoise: Double?) {}
    public func block(_ record: BlockRecord) {}
    public func afterBlock(_ block: Int, bench: Bench) async {}
}

public struct SilentObserver: RunObserver { public init() {} }
