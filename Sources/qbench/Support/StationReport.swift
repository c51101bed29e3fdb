import BenchKit
import Calibrate
import Foundation
import Sequencer

/// What `qbench serve --json` and `qbench client --json` print for a session: the station's own
/// view, with where its records are (`scripts/two-stations.sh` puts the two side by side).
struct StationReport: Encodable {
    let station: String
    /// The station's run database.
    let database: String
    let sessionId: String
    /// abort, certified, collecting (all blocks served within budget, not yet certified) or
    /// interrupted (the session ended before its last block: resumable from its last commit).
    let decision: String
    /// The session's status in the station's database: completed, aborted, interrupted, failed.
    let status: String
    let certified: Bool
    let aborted: Bool
    let abortReason: String?
    let images: Int
    /// The client's accuracy (the server never knows it).
    let accuracy: Double?
    let transmittanceEstimate: Double
    let excessNoiseEstimate: Double
    let weightLeakageUpperBoundBitsPerMode: Double
    let dataLeakageBits: Double
    let seconds: Double
    /// The client's predicted class of each image (its own records; the server never has them).
    let predictions: [Int]?

    init(_ r: RunResult, station: Station, database: URL, ended: RunStatus? = nil, predictions: [Int]? = nil) {
        self.predictions = station == .client ? predictions : nil
        self.station = station.rawValue
        self.database = database.path
        sessionId = r.runId
        let status = ended ?? (r.aborted ? .aborted : .completed)
        self.status = status.rawValue
        decision = r.aborted ? "abort" : [.interrupted, .failed, .running].contains(status) ? "interrupted" : r.certified ? "certified" : "collecting"
        certified = r.certified
        aborted = r.aborted
        abortReason = r.abortReason
        images = r.images
        accuracy = station == .client ? r.accuracy : nil
        transmittanceEstimate = r.transmittanceEstimate
        excessNoiseEstimate = r.excessNoiseEstimate
        weightLeakageUpperBoundBitsPerMode = r.weightLeakageUpperBoundBitsPerMode
        dataLeakageBits = r.dataLeakageBits
        seconds = r.seconds
    }
}

/// What `qbench serve --calibrate-link --json` and `qbench client --calibrate-link --json` print: the
/// station's own link record.
struct LinkCalibrationReport: Encodable {
    let station: String
    let record: String
    let values: [String: Double]

    init(_ r: CalibrationRecord, station: Station) {
        self.station = station.rawValue
        record = r.id
        values = r.values.mapValues(\.value)
    }
}
