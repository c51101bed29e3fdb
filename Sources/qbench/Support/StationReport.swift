import BenchKit
import Foundation
import Sequencer

/// What `qbench serve --json` and `qbench client --json` print for a session: the station's own
/// view, with where its records are (`scripts/two-stations.sh` puts the two side by side).
struct StationReport: Encodable {
    let station: String
    /// The station's run database.
    let database: String
    let sessionId: String
    /// abort, certified, or collecting (ended within budget but not yet certified).
    let decision: String
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

    init(_ r: RunResult, station: Station, database: URL) {
        self.station = station.rawValue
        self.database = database.path
        sessionId = r.runId
        decision = r.aborted ? "abort" : r.certified ? "certified" : "collecting"
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
