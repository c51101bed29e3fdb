import Calibrate
import Foundation
import SecureInference

/// What the server station has accumulated at a commit: enough to continue exactly from there.
struct ServerCheckpoint: Sendable, Codable, Equatable {
    var nextBlock: Int
    /// Images served (shots through the client per layer); their content is the client's.
    var imagesDone: Int
    /// Returned light through the client, and the interleaved back-to-back reference.
    var client: ReturnedLightStatistics
    var reference: ReturnedLightStatistics
    /// Modes first certified within budget (nil: not yet).
    var firstCertifiedAtModes: Int?
    /// The hidden state of the server's drivers (the twin's), by driver name.
    var drivers: [String: Data]
    var wallSeconds: Double
    /// The session's secret basis, sealed with the station key (nil before the warm-up journaled it).
    var basis: SealedBasis?
    /// Samples of the server's receiver at the digitiser's rails so far, and the blocks they were in.
    var clippedSamples = 0
    var clippedBlocks: [Int] = []

    static func initial() -> ServerCheckpoint {
        ServerCheckpoint(nextBlock: 0, imagesDone: 0, client: ReturnedLightStatistics(), reference: ReturnedLightStatistics(),
                         firstCertifiedAtModes: nil, drivers: [:], wallSeconds: 0, basis: nil)
    }
}

/// What the client station has at a commit: where it is, and how many of its predictions were right.
struct ClientCheckpoint: Sendable, Codable, Equatable {
    var nextBlock: Int
    var imagesDone: Int
    var correct: Int
    /// The hidden state of the client's drivers (the twin's), by driver name.
    var drivers: [String: Data]
    var wallSeconds: Double
    /// The server's last verdict as received (its protobuf bytes), for the record of a resumed session.
    var verdict: Data?
    /// The predicted class of every image so far (the client's alone; nil in records older than it).
    var predictions: [UInt8]?

    static func initial() -> ClientCheckpoint { ClientCheckpoint(nextBlock: 0, imagesDone: 0, correct: 0, drivers: [:], wallSeconds: 0) }
}
