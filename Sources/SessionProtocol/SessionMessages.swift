import Crypto
import Foundation
import SwiftProtobuf

/// The version of the session protocol this code speaks; a peer with another version is refused at hello.
public let sessionProtocolVersion: UInt32 = 1

/// One message's content. The generated `SessionEnvelope` (Generated/session.pb.swift, from
/// Proto/session.proto) wraps it with the sender's sequence number.
public typealias SessionMessage = SessionEnvelope.OneOf_Body

/// The two parties of a session.
public enum SessionSide: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case server, client
    public var peer: SessionSide { self == .server ? .client : .server }
    public var description: String { rawValue }
}

extension SessionMessage {
    /// A short name for journals and errors ("clientArmed", "verdict", ...).
    public var kind: String {
        switch self {
        case .hello: "hello"
        case .request: "request"
        case .accept: "accept"
        case .deny: "deny"
        case .layerReady: "layerReady"
        case .clientArmed: "clientArmed"
        case .fired: "fired"
        case .clientMeasured: "clientMeasured"
        case .returnedLightAcquired: "returnedLightAcquired"
        case .verdict: "verdict"
        case .commit: "commit"
        case .pause: "pause"
        case .resume: "resume"
        case .abort: "abort"
        case .end: "end"
        case .error: "error"
        }
    }

    // Convenience constructors, so station code reads like the protocol.
    public static func hello(softwareVersion: String, parametersSHA256: [UInt8] = [], protocolVersion: UInt32 = sessionProtocolVersion) -> Self {
        .hello(.with { $0.protocolVersion = protocolVersion; $0.softwareVersion = softwareVersion; $0.parametersSha256 = Data(parametersSHA256) })
    }
    public static func request(sessionID: String, parameters: SessionParameters, firstBlock: UInt32 = 0) -> Self {
        .request(.with { $0.sessionID = sessionID; $0.parameters = parameters; $0.firstBlock = firstBlock })
    }
    public static func accept(parameters: SessionParameters) -> Self {
        .accept(.with { $0.parametersSha256 = Data(parameters.sha256) })
    }
    public static func deny(reason: String) -> Self { .deny(.with { $0.reason = reason }) }
    public static func layerReady(block: UInt32, layer: UInt32) -> Self {
        .layerReady(.with { $0.block = block; $0.layer = layer })
    }
    public static func clientArmed(block: UInt32, layer: UInt32, burst: UInt32, shots: UInt32, firstShotIndex: UInt64) -> Self {
        .clientArmed(.with { $0.block = block; $0.layer = layer; $0.burst = burst; $0.shots = shots; $0.firstShotIndex = firstShotIndex })
    }
    public static func fired(block: UInt32, layer: UInt32, burst: UInt32) -> Self {
        .fired(.with { $0.block = block; $0.layer = layer; $0.burst = burst })
    }
    public static func clientMeasured(block: UInt32, layer: UInt32, burst: UInt32) -> Self {
        .clientMeasured(.with { $0.block = block; $0.layer = layer; $0.burst = burst })
    }
    public static func returnedLightAcquired(block: UInt32, layer: UInt32, burst: UInt32) -> Self {
        .returnedLightAcquired(.with { $0.block = block; $0.layer = layer; $0.burst = burst })
    }
    public static func pause(reason: String) -> Self { .pause(.with { $0.reason = reason }) }
    public static func resume() -> Self { .resume(SessionResume()) }
    public static func abort(reason: String) -> Self { .abort(.with { $0.reason = reason }) }
    public static func end(summary: String) -> Self { .end(.with { $0.summary = summary }) }
    public static func error(_ code: SessionErrorCode, message: String, remedy: String) -> Self {
        .error(.with { $0.code = code; $0.message = message; $0.remedy = remedy })
    }
}

extension SessionEnvelope {
    /// The envelope's bytes as they go on the wire and into the transcript.
    public var wireBytes: [UInt8] {
        // Serialising a message this module built or decoded cannot fail (no required fields, no Any);
        // an empty array would only make the transcripts differ, which aborts the session.
        (try? serializedBytes()) ?? []
    }
}

extension SessionParameters {
    /// SHA-256 of the parameters' protobuf serialisation: what Accept, Hello and the journals carry.
    public var sha256: [UInt8] {
        let bytes: [UInt8] = (try? serializedBytes()) ?? []
        return Array(SHA256.hash(data: bytes))
    }

    /// Builds parameters from the public operating point.
    public static func make(
        gain: Double, photonsPerMode: Double, modesPerRow: UInt32, vacuumSlotsPerRow: UInt32,
        layers: [(rows: UInt32, modesPerRow: UInt32)], images: UInt32, blockImages: UInt32, shotsPerBurst: UInt32,
        weightLeakageBudgetBitsPerMode: Double, delta: Double
    ) -> SessionParameters {
        .with {
            $0.gain = gain
            $0.photonsPerMode = photonsPerMode
            $0.modesPerRow = modesPerRow
            $0.vacuumSlotsPerRow = vacuumSlotsPerRow
            $0.layers = layers.map { l in SessionLayer.with { $0.rows = l.rows; $0.modesPerRow = l.modesPerRow } }
            $0.images = images
            $0.blockImages = blockImages
            $0.shotsPerBurst = shotsPerBurst
            $0.weightLeakageBudgetBitsPerMode = weightLeakageBudgetBitsPerMode
            $0.delta = delta
        }
    }

    /// Upper limits that keep every derived count small and every product far from overflow.
    public static let maximumImages: UInt32 = 10_000_000
    public static let maximumLayers = 64
    public static let maximumRows: UInt32 = 1 << 20
    public static let maximumModesPerRow: UInt32 = 1 << 20

    /// Why these parameters cannot run, or nil. Checked by both sides before anything else uses them.
    public var problem: String? {
        guard gain.isFinite, gain >= 1 else { return "gain G = \(gain) must be finite and ≥ 1" }
        guard photonsPerMode.isFinite, photonsPerMode > 0 else { return "photons per mode μ = \(photonsPerMode) must be finite and > 0" }
        guard modesPerRow > 0, modesPerRow <= Self.maximumModesPerRow else { return "modes per row n = \(modesPerRow) must be in 1...\(Self.maximumModesPerRow)" }
        guard vacuumSlotsPerRow <= Self.maximumModesPerRow else { return "vacuum slots per row = \(vacuumSlotsPerRow) exceeds \(Self.maximumModesPerRow)" }
        guard !layers.isEmpty, layers.count <= Self.maximumLayers else { return "layers: \(layers.count), need 1...\(Self.maximumLayers)" }
        for (i, layer) in layers.enumerated() {
            guard layer.rows > 0, layer.rows <= Self.maximumRows else { return "layer \(i): rows = \(layer.rows) must be in 1...\(Self.maximumRows)" }
            guard layer.modesPerRow > 0, layer.modesPerRow <= modesPerRow else { return "layer \(i): modes per row = \(layer.modesPerRow) must be in 1...n (\(modesPerRow))" }
        }
        guard images > 0, images <= Self.maximumImages else { return "images = \(images) must be in 1...\(Self.maximumImages)" }
        guard blockImages > 0, blockImages <= images else { return "block images = \(blockImages) must be in 1...images (\(images))" }
        guard shotsPerBurst > 0 else { return "shots per burst must be > 0" }
        guard weightLeakageBudgetBitsPerMode.isFinite, weightLeakageBudgetBitsPerMode > 0 else { return "weight-leakage budget must be finite and > 0 bit/mode" }
        guard delta.isFinite, delta > 0, delta < 1 else { return "δ = \(delta) must be in (0, 1)" }
        return nil
    }

    /// Number of blocks: ⌈images / blockImages⌉ (valid parameters only).
    public var blockCount: Int { (Int(images) + Int(blockImages) - 1) / max(Int(blockImages), 1) }

    /// Images (= client shots per layer) in block `block`.
    public func imagesInBlock(_ block: Int) -> Int {
        max(0, min(Int(blockImages), Int(images) - block * Int(blockImages)))
    }

    /// Bursts per layer in block `block`: ⌈images in block / shots per burst⌉.
    public func burstCount(block: Int) -> Int {
        let n = imagesInBlock(block)
        return (n + Int(shotsPerBurst) - 1) / max(Int(shotsPerBurst), 1)
    }

    /// The (shots, firstShotIndex) a ClientArmed must announce: shot k of a layer is image k of the session.
    public func burst(block: Int, burst: Int) -> (shots: UInt32, firstShotIndex: UInt64) {
        let start = burst * Int(shotsPerBurst)
        let shots = max(0, min(Int(shotsPerBurst), imagesInBlock(block) - start))
        return (UInt32(shots), UInt64(block * Int(blockImages) + start))
    }
}

extension SessionVerdict {
    /// Why this verdict is not well formed, or nil.
    var problem: String? {
        let values = [transmittance, excessNoise, transmittanceLowerBound, excessNoiseUpperBound, weightLeakageBitsPerMode, weightLeakageBoundBitsPerMode]
        guard values.allSatisfy(\.isFinite) else { return "non-finite estimate or bound" }
        switch decision {
        case .collecting, .certified, .abort: return nil
        case .unspecified, .UNRECOGNIZED: return "decision is \(decision), need collecting, certified or abort"
        }
    }
}
