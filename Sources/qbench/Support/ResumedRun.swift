import BenchKit
import Foundation
import Sequencer

/// What `qbench run --resume ID` continues from: the run's own record. The operating point,
/// bench text, model, data and calibration folder are the recorded ones; an option given with
/// `--resume` that says otherwise is refused with every difference named, before anything opens;
/// an edited bench file is refused with its first changed line; a bench file that is gone is
/// replaced by the text the run recorded.
struct ResumedRun {
    /// The server's record of the run.
    let configuration: RunConfiguration
    /// The bench as the run recorded it.
    let bench: BenchDescription
    /// The model file the run recorded (its identity is checked again when the run reopens).
    let modelFile: String
    /// The client's recorded data directory (nil when the client kept none).
    let dataDirectory: String?

    init(id: String, options: RunCommand, server: RunDatabase, client: RunDatabase) throws {
        let recorded = try server.run(id).configuration
        let clientRecord = try? client.run(id).configuration
        var conflicts: [String] = []
        func compare<T: Equatable>(_ option: String, _ given: T?, _ record: T?) {
            guard let given, given != record else { return }
            conflicts.append("\(option) \(given) (the run recorded \(record.map { "\($0)" } ?? "none"))")
        }
        compare("--images", options.images, recorded.images)
        compare("--gain", options.gain, recorded.gain)
        compare("--photons", options.photons, recorded.photonsPerMode)
        compare("--block-images", options.blockImages, recorded.blockImages)
        compare("--burst-shots", options.burstShots, recorded.shotsPerBurst)
        compare("--client", options.client, recorded.client)
        compare("--budget", options.budget, recorded.budgetBitsPerMode)
        compare("--delta", options.delta, recorded.delta)
        compare("--vacuum-slots", options.vacuumSlots, recorded.vacuumSlotsPerRow)
        if options.rawSamples && !recorded.keepRawSamples { conflicts.append("--raw-samples (the run kept none)") }
        func path(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.path }
        if let b = options.bench, path(b) != path(recorded.benchFile) {
            conflicts.append("--bench \(b) (the run recorded \(recorded.benchFile))")
        }
        if let d = options.modelOptions.data, let r = clientRecord?.dataDirectory, !r.isEmpty, path(d) != path(r) {
            conflicts.append("--data \(d) (the run recorded \(r))")
        }
        if let s = options.store {
            let r = recorded.calibrationStore ?? BenchOpening.defaultStoreURL.path
            if path(s) != path(r) { conflicts.append("--store \(s) (the run read its calibration from \(r))") }
        }
        guard conflicts.isEmpty else {
            throw CLIError("run \(id) continues as it was recorded, and \(conflicts.count == 1 ? "this option differs" : "these options differ") from its record: \(conflicts.joined(separator: "; ")); drop \(conflicts.count == 1 ? "it" : "them") to resume, or start a new run")
        }

        guard let data = try server.benchSnapshot(id), let snapshot = try? JSONDecoder().decode(Bench.Snapshot.self, from: data),
              !snapshot.benchFile.isEmpty else {
            throw CLIError("run \(id) holds no copy of its bench file, so it cannot be resumed as it was: start a new run")
        }
        let file = recorded.benchFile
        if FileManager.default.fileExists(atPath: file) {
            let now = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            if now != snapshot.benchFile {
                let was = snapshot.benchFile.split(separator: "\n", omittingEmptySubsequences: false)
                let is_ = now.split(separator: "\n", omittingEmptySubsequences: false)
                let k = Array(zip(was, is_)).firstIndex { $0.0 != $0.1 } ?? min(was.count, is_.count)
                let before = k < was.count ? "'\(was[k])'" : "(end of file)", after = k < is_.count ? "'\(is_[k])'" : "(end of file)"
                throw CLIError("\(file) changed since run \(id) started (line \(k + 1): it was \(before), it is \(after)); a resumed run continues on the bench it ran on: restore the file (`qbench report \(id)` shows the recorded text) or start a new run")
            }
        } else {
            FileHandle.standardError.write(Data("note: \(file) is gone; run \(id) resumes on the bench text it recorded\n".utf8))
        }
        bench = try BenchDescription.parse(snapshot.benchFile, file: file)
        configuration = recorded
        modelFile = recorded.modelFile
        dataDirectory = clientRecord.map(\.dataDirectory).flatMap { $0.isEmpty ? nil : $0 }
    }
}
