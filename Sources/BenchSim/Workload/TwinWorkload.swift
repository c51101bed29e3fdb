import BenchKit
import Foundation
import Numerics
import NumericsKit
import SecureInference

/// The twin's benchmark workload (`qbench bench twin`): every optical mode of secure inference of
/// MNIST images through an opened simulated bench, driven the way a protocol run drives it: per
/// batch and layer, the layer's frames on the modulator, ξ per image on the client processor, both
/// receivers armed, the trigger, and the fetch of the server's samples and the client's readings;
/// the client's readings become the next layer's input (ReLU, normalisation) and the last layer's
/// give the predictions.
///
/// BENCHMARK ONLY: the calibrated encoder does not exist yet, so the drive voltages, the biases,
/// the attenuator setting, the LO phases and the client's reading scale are computed from the
/// twin's hidden constants (`TruthEncoder`, `SimulationEngine.truth`).
public struct TwinWorkload: Sendable {
    public struct Configuration: Sendable {
        public var gain = 2.0
        public var photonsPerMode = 4.0
        /// Vacuum slots after the n modes of every row (the in-band shot-noise reference).
        public var vacuumSlotsPerRow = 8
        /// Images per trigger burst.
        public var batch = 16
        public var laserCurrent = Current.milliamperes(60)
        public var localOscillatorPower = Power.milliwatts(5)
        /// Seed of the server's random X/P choice per slot.
        public var patternSeed: UInt64 = 1
        public init() {}
    }

    public struct Result: Sendable, Equatable {
        public var images = 0
        /// Signal modes delivered to the server receiver (vacuum slots not counted).
        public var modes = 0
        /// Wall time of the driving loop (setup excluded).
        public var seconds = 0.0
        /// Of which inside the trigger (the twin's physics).
        public var physicsSeconds = 0.0
        public var correct = 0
        /// Client readings at the rails of its digitiser.
        public var clippedReadings = 0
        public var readings = 0
        public var modesPerSecond: Double { Double(modes) / seconds }
        public var accuracy: Double { Double(correct) / Double(max(1, images)) }
    }

    struct Layer: Sendable {
        let encoded: EncodedLayer
        let layout: FrameLayout
        let i: Waveform
        let q: Waveform
    }

    public let configuration: Configuration
    let bench: Bench
    let engine: SimulationEngine
    let network: MNISTNetwork
    let layers: [Layer]

    /// Sets the bench up for the run (laser, attenuator, biases, receivers, client optics, switch,
    /// shutter) and computes every layer's frames. Not part of the measured time.
    public init(bench: Bench, network: MNISTNetwork, configuration: Configuration = Configuration()) async throws {
        self.bench = bench
        self.network = network
        self.configuration = configuration
        let engine = try await SimulatedBench.engine(of: bench)
        self.engine = engine
        let c = configuration

        let laser = try bench.laser()
        try await laser.setTemperature(.celsius(25))
        try await laser.setEmission(true)
        try await laser.ramp(to: c.laserCurrent, step: .milliamperes(10), interval: .milliseconds(1))

        let encoded = try network.layers.map { try EncodedLayer(weights: $0, photonsPerMode: c.photonsPerMode) }
        var largest = 0.0
        for layer in encoded {
            for r in 0..<layer.weights.rows {
                for a in layer.amplitudes(row: r) { largest = max(largest, abs(a.real), abs(a.imaginary)) }
            }
        }
        let encoder = TruthEncoder(engine: engine)
        let forward = encoder.forwardLink
        // Field scale at the server output so that the largest component needs the encoder's
        // largest field: α at the client input = forward · scale · f.
        let scale = largest / TruthEncoder.maximumComponent / forward.length
        try await bench.attenuator().setAttenuation(encoder.attenuation(fieldScale: scale, current: c.laserCurrent,
                                                                         symbolRate: engine.configuration.symbolRate))
        let biases = encoder.operatingBiases
        let modulator = try bench.modulator()
        try await modulator.setBias(.i, biases.i)
        try await modulator.setBias(.q, biases.q)
        try await modulator.setBias(.phase, biases.phase)

        let rate = engine.configuration.symbolRate
        layers = encoded.map { layer in
            let n = layer.modesPerRow, v = c.vacuumSlotsPerRow
            var fields = [Complex<Double>](repeating: .zero, count: layer.weights.rows * (n + v))
            for r in 0..<layer.weights.rows {
                for (j, a) in layer.amplitudes(row: r).enumerated() { fields[r * (n + v) + j] = a / Complex(scale * forward.length) }
            }
            let d = encoder.drives(for: fields)
            return Layer(encoded: layer, layout: FrameLayout(rows: layer.weights.rows, modesPerRow: n, vacuumSlotsPerRow: v),
                         i: Waveform(volts: d.i, sampleRate: rate), q: Waveform(volts: d.q, sampleRate: rate))
        }

        let phases = encoder.phases
        let server = try bench.receiver(.serverReceiver), client = try bench.receiver(.clientReceiver)
        try await server.setLocalOscillatorPower(c.localOscillatorPower)
        try await client.setLocalOscillatorPower(c.localOscillatorPower)
        try await server.setLocalOscillatorPhase(.radians(phases.linkForward + phases.linkBack - phases.localOscillator[.serverReceiver]!))
        try await client.setLocalOscillatorPhase(.radians(phases.linkForward - phases.localOscillator[.clientReceiver]!))
        // The server's secret random quadrature per signal slot; vacuum slots blocked locally.
        var rng = Xoshiro256(seed: c.patternSeed)
        let spr = layers[0].layout.slotsPerRow
        let rows = layers.map(\.layout.rows).max()!
        try await server.loadSlotPattern((0..<(rows * spr)).map { s in
            s % spr < layers[0].layout.modesPerRow ? (rng.next() & 1 == 0 ? .x : .p) : .vacuum
        })
        try await server.setInputBlocked(false)
        try await client.setInputBlocked(false)
        try await bench.amplifier().setGain(c.gain)
        try await bench.splitter().setKeptFraction(1 - 1 / c.gain)
        try await bench.opticalSwitch().route(.client)
        try await bench.shutter().setOpen(true)
    }

    /// Classifies `set` through the bench; `progress` gets the shots done (images × layers) after every burst.
    public func run(_ set: MNISTSet, progress: (Int) -> Void = { _ in }) async throws -> Result {
        let c = configuration
        let modulator = try bench.modulator(), processor = try bench.clientProcessor(), trigger = try bench.trigger()
        let server = try bench.receiver(.serverReceiver), client = try bench.receiver(.clientReceiver)
        let truth = engine.truth.clientReceiver
        let gc = truth.shotNoiseVariance(loPower: engine.deliveredLocalOscillatorPower(.clientReceiver)).squareRoot()
        let voltsPerSNU = gc * truth.efficiency.squareRoot()
        let rail = Float(truth.range.si) - Float(truth.lsb)
        let readingScale = 2 * ((1 - 1 / c.gain) * c.gain).squareRoot()
        var result = Result()
        let clock = ContinuousClock()
        let started = clock.now
        // Layer-major: each layer's frames are uploaded once and serve every burst of that layer
        // (an AWG upload is slow on a real bench); the client keeps each image's layer output.
        var inputs = set.images.values           // images × width, flat
        var width = set.images.cols
        for (k, layer) in layers.enumerated() {
            try await modulator.loadDrive(i: layer.i, q: layer.q)
            let rows = layer.layout.rows
            let perUnit = 1 / (voltsPerSNU * readingScale * layer.encoded.amplitudeScale)
            var outputs = [Float](repeating: 0, count: set.count * rows)
            var start = 0
            while start < set.count {
                let count = min(c.batch, set.count - start)
                let symbols = (start..<(start + count)).map { b in
                    ClientEncoding.symbols(Array(inputs[(b * width)..<((b + 1) * width)])).map { ComplexSymbol(Float($0.real), Float($0.imaginary)) }
                }
                try await processor.program(symbols, layout: layer.layout)
                try await server.arm(shots: count)
                try await client.arm(shots: count)
                let physics = clock.now
                try await trigger.fire(shots: count)
                result.physicsSeconds += (clock.now - physics).inSeconds
                let samples = try await server.fetch(timeout: .seconds(60))
                let readings = try await client.fetch(timeout: .seconds(60)).volts
                // The twin's own receiver records exactly what was armed: an internal invariant of
                // `qbench bench twin`, not reachable from a file or an option.
                precondition(samples.volts.count == count * layer.layout.slotsPerShot, "server samples missing")
                result.modes += count * rows * layer.layout.modesPerRow
                result.readings += readings.count
                // The client: readings → estimates of w·x̂ → ReLU (not after the last layer).
                for b in 0..<count {
                    for r in 0..<rows {
                        let v = readings[b * rows + r]
                        if abs(v) >= rail { result.clippedReadings += 1 }
                        let estimate = Float((Double(v) - truth.offset.si) * perUnit)
                        outputs[(start + b) * rows + r] = k < layers.count - 1 ? max(0, estimate) : estimate
                    }
                }
                start += count
                progress(k * set.count + start)
            }
            inputs = outputs
            width = rows
        }
        for b in 0..<set.count {
            let logits = inputs[(b * width)..<((b + 1) * width)]
            if logits.indices.max(by: { logits[$0] < logits[$1] })! - b * width == Int(set.labels[b]) { result.correct += 1 }
        }
        result.seconds = (clock.now - started).inSeconds
        result.images = set.count
        return result
    }
}
