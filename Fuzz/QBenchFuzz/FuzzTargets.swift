import BenchIO
import BenchKit
import BenchSim
import Calibrate
import Drivers
import Foundation
import SecureInference
import SessionProtocol

/// Coverage-guided fuzz targets for every parser that reads outside data (issue 11). One binary
/// holds them all; `QBENCH_FUZZ_TARGET` picks one (scripts/fuzz.sh runs each in turn). A target
/// may throw (refusing input is the point); it must never trap, hang or allocate without bound.
enum FuzzTarget: String, CaseIterable {
    case benchFile = "bench-file"
    case instrumentFile = "instrument-file"
    case calibrationRecord = "calibration-record"
    case calibrationIndex = "calibration-index"
    case modelFile = "model-file"
    case mnistIDX = "mnist-idx"
    case gzip
    case usbtmcBulkIn = "usbtmc-bulk-in"
    case ieeeBlock = "ieee-block"
    case scpiResponse = "scpi-response"
    case sessionMessage = "session-message"
    case clientImage = "client-image"

    /// Runs one input through the target's parsers.
    func run(_ bytes: [UInt8]) {
        let data = Data(bytes)
        switch self {
        case .benchFile:
            guard let text = try? YAMLTree.text(of: data, file: "fuzz.yaml"),
                  let bench = try? BenchDescription.parse(text, file: "fuzz.yaml") else { return }
            _ = try? SimulationConfiguration.parse(bench.simulation)
        case .instrumentFile:
            guard let text = try? YAMLTree.text(of: data, file: "fuzz.yaml") else { return }
            _ = try? InstrumentDescription.parse(text, file: "fuzz.yaml")
        case .calibrationRecord:
            let store = Scratch.shared.store
            try? data.write(to: store.url(of: Scratch.recordID))
            _ = try? store.load(Scratch.recordID)
            // Past the seal (which random bytes never carry): the value checks on whatever decodes.
            if let record = try? CalibrationStore.decoder.decode(CalibrationRecord.self, from: data) {
                _ = record.valueProblems
                _ = record.sealProblem(with: store.key)
            }
        case .calibrationIndex:
            let store = Scratch.shared.store
            try? data.write(to: store.root.appendingPathComponent("fz/index.json"))
            _ = try? store.loadIndex("fz")
        case .modelFile:
            _ = try? ModelFile.decode(data, path: "fuzz.qbm")
        case .mnistIDX:
            // First byte: where the images file ends and the labels file starts.
            guard let cut = bytes.first else { return }
            let rest = Array(bytes.dropFirst())
            let split = min(Int(cut) * rest.count / 255, rest.count)
            _ = try? MNISTSet.parse(images: Array(rest[..<split]), labels: Array(rest[split...]), limit: 16)
        case .gzip:
            _ = try? gunzip(data, name: "fuzz.gz", maximumOutput: 1 << 22) { head in
                head.count >= 4 ? Int(head[head.startIndex]) * 4096 : nil
            }
        case .usbtmcBulkIn:
            guard bytes.count >= 2 else { return }
            let tag = bytes[0], requested = UInt32(bytes[1]) * 61
            let transfer = Array(bytes.dropFirst(2))
            _ = try? DevDepMsgInHeader.parse(transfer, expectedTag: tag, requestedSize: requested)
            _ = try? DevDepMsgIn.parse(transfer, expectedTag: tag, requestedSize: requested)
            _ = try? USBTMCCapabilities(response: transfer)
            _ = try? USBTMCControlResponse.InitiateAbort(response: transfer, request: .initiateAbortBulkIn)
            _ = try? USBTMCControlResponse.CheckAbortBulkOut(response: transfer)
            _ = try? USBTMCControlResponse.CheckAbortBulkIn(response: transfer)
            _ = try? USBTMCControlResponse.CheckClear(response: transfer)
            _ = try? USBTMCControlResponse.ReadStatusByte(response: transfer, expectedTag: tag)
        case .ieeeBlock:
            _ = try? IEEEBlock.decode(bytes, endOfMessage: true)
            _ = try? IEEEBlock.decode(bytes, endOfMessage: false)
        case .scpiResponse:
            let text = String(decoding: SCPIResponse.strippingTerminator(bytes), as: UTF8.self)
            _ = SCPIResponse.number(text)
            _ = SCPIResponse.integer(text)
            _ = SCPIResponse.boolean(text)
            _ = SCPIResponse.numbers(text)
            _ = SCPIIdentity(response: text)
            if let entry = SCPIErrorEntry(response: text) { _ = entry.category; _ = entry.description }
        case .sessionMessage:
            // First byte: whose state machine (bit 0: client) receives; then frames of a little-endian
            // UInt16 length and a serialised envelope from the peer, in order.
            guard let first = bytes.first else { return }
            var machine = SessionStateMachine(side: first & 1 == 0 ? .server : .client, softwareVersion: "fuzz")
            for frame in SessionFrames.split(Array(bytes.dropFirst())) {
                switch machine.receive(bytes: frame) {
                case let .accepted(message):
                    if case let .request(r) = message, r.parameters.problem == nil {
                        let p = r.parameters
                        _ = p.sha256
                        for block in 0..<min(p.blockCount, 4) {
                            _ = p.imagesInBlock(block)
                            for burst in 0..<min(p.burstCount(block: block), 4) { _ = p.burst(block: block, burst: burst) }
                        }
                    }
                case .refused: break
                }
                if machine.isClosed { break }
            }
        case .clientImage:
            // First byte: what the file claims to be (its extension); the rest is the file.
            guard let first = bytes.first else { return }
            let url = Scratch.shared.imageFile(extension: ["pgm", "png", "idx"][Int(first) % 3])
            try? Data(bytes.dropFirst()).write(to: url)
            _ = try? ClientImageFiles.load(url)
        }
    }
}

/// The session-message target's framing (also used to write its seed corpus).
enum SessionFrames {
    static func split(_ bytes: [UInt8]) -> [[UInt8]] {
        var frames: [[UInt8]] = [], at = 0
        while at + 2 <= bytes.count, frames.count < 64 {
            let n = Int(bytes[at]) | Int(bytes[at + 1]) << 8
            at += 2
            let end = min(at + n, bytes.count)
            frames.append(Array(bytes[at..<end]))
            at = end
        }
        return frames
    }

    static func join(side: SessionSide, _ envelopes: [SessionEnvelope]) -> [UInt8] {
        var out: [UInt8] = [side == .server ? 0 : 1]
        for e in envelopes {
            let b: [UInt8] = (try? e.serializedBytes()) ?? []
            out += [UInt8(b.count & 0xFF), UInt8(b.count >> 8)] + b
        }
        return out
    }

    /// Valid openings of a session as each side receives them: the peer's hello, then its request
    /// (to a server) or its accept and the first layer's flow (to a client).
    static func seeds() -> [String: [UInt8]] {
        let p = SessionParameters.make(gain: 2, photonsPerMode: 4, modesPerRow: 8, vacuumSlotsPerRow: 4, layers: [(4, 8), (2, 4)],
                                       images: 3, blockImages: 2, shotsPerBurst: 2, weightLeakageBudgetBitsPerMode: 0.1, delta: 1e-6)
        func envelopes(_ messages: [SessionMessage]) -> [SessionEnvelope] {
            messages.enumerated().map { k, m in var e = SessionEnvelope(); e.sequence = UInt64(k); e.body = m; return e }
        }
        let toServer = envelopes([.hello(softwareVersion: "fuzz"), .request(sessionID: "s-1", parameters: p)])
        let toClient = envelopes([.hello(softwareVersion: "fuzz", parametersSHA256: p.sha256), .accept(parameters: p),
                                  .layerReady(block: 0, layer: 0), .fired(block: 0, layer: 0, burst: 0)])
        return ["to-server": join(side: .server, toServer), "to-client": join(side: .client, toClient),
                "to-server-garbled": join(side: .server, toServer).map { $0 ^ 0x01 }]
    }
}

/// A per-process scratch calibration store (the record and index targets go through the store's
/// own file-reading API).
final class Scratch: Sendable {
    static let shared = Scratch()
    static let recordID = "fz/r/1-laser"
    let store: CalibrationStore
    init() {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: root.appendingPathComponent("fz/r"), withIntermediateDirectories: true)
        store = CalibrationStore(root: root, key: .generate())
        self.root = root
    }
    let root: URL

    func imageFile(extension ext: String) -> URL { root.appendingPathComponent("image.\(ext)") }
}

/// The target named by `QBENCH_FUZZ_TARGET`.
let selectedTarget: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["QBENCH_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(Data("QBENCH_FUZZ_TARGET must be one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    return t
}()

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selectedTarget.run(bytes)
    return 0
}

/// libFuzzer's driver (compiler-rt, linked by `-sanitize=fuzzer`). SwiftPM gives an executable
/// its own `main`, so libFuzzer's is not linked; this one hands over to the driver.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct Fuzz {
    static func main() {
        _ = selectedTarget
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        let status = LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
        exit(status)
    }
}
#else
/// Without libFuzzer: replays files through a target (`qbench-fuzz TARGET FILE...`), e.g. a
/// corpus or a crash input, so a finding can be reproduced with an ordinary build.
@main
struct Replay {
    static func main() throws {
        let args = CommandLine.arguments.dropFirst()
        if args.first == "--write-session-seeds", let folder = args.dropFirst().first {
            for (name, bytes) in SessionFrames.seeds() {
                try Data(bytes).write(to: URL(fileURLWithPath: folder).appendingPathComponent(name))
            }
            return
        }
        guard let name = args.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: QBenchFuzz TARGET FILE...; targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
            exit(2)
        }
        for path in args.dropFirst() {
            target.run([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))))
            print("ok \(path)")
        }
    }
}
#endif
