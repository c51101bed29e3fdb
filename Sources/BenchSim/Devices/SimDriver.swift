import Foundation
import BenchKit

/// The `sim` driver: builds the digital twin's devices for every device family, at `sim://…`
/// addresses. All devices of one bench share one `SimulationEngine`, created from the bench file's
/// `simulation:` section the first time a device is made (`DriverContext.shared`).
public struct SimDriver: DriverFactory {
    public init() {}
    /// Where the bench's engine lives in its `SharedResources`.
    static let engineKey = "sim.engine"
    public var name: String { "sim" }
    public var summary: String { "digital twin: physics of every device, hidden constants drawn from the bench's seed" }
    public var families: [DeviceFamily] { DeviceFamily.allCases }

    // What the simulated instruments themselves allow.
    static let maximumLaserCurrent = 0.2
    static let temperatureRange = 283.15...318.15
    static let maximumDrive = 10.0
    static let maximumBias = 20.0
    static let attenuationRange = 0.0...80.0
    static let maximumGain = 100.0
    static let maximumLOPower = 0.05

    public func hardwareLimits(for family: DeviceFamily) -> [String: LimitRange] {
        let source = "sim driver"
        switch family {
        case .laser: return ["current": LimitRange(min: 0, max: Self.maximumLaserCurrent, source: source),
                             "temperature": LimitRange(min: Self.temperatureRange.lowerBound, max: Self.temperatureRange.upperBound, source: source)]
        case .modulator: return ["drive": LimitRange(min: -Self.maximumDrive, max: Self.maximumDrive, source: source),
                                 "bias": LimitRange(min: -Self.maximumBias, max: Self.maximumBias, source: source)]
        case .attenuator: return ["attenuation": LimitRange(min: Self.attenuationRange.lowerBound, max: Self.attenuationRange.upperBound, source: source)]
        case .amplifier: return ["gain": LimitRange(min: 1, max: Self.maximumGain, source: source)]
        case .splitter: return ["kept-fraction": LimitRange(min: 0, max: 1, source: source)]
        case .homodyneReceiver: return ["lo-power": LimitRange(min: 0, max: Self.maximumLOPower, source: source)]
        case .shutter: return ["open": LimitRange(min: 0, max: 1, source: source)]
        case .powerMeter, .fiberLink, .clientProcessor, .opticalSwitch, .trigger, .interlock: return [:]
        }
    }

    public func validate(_ binding: RoleBinding) throws(BenchFileError) {
        switch binding.address {
        case .simulated: break
        case .simulatedFiber where binding.role == .link: break
        case .simulatedFiber:
            throw BenchFileError(file: binding.options?.file ?? "bench file", line: binding.line,
                                 message: "\(binding.role.rawValue): only the link role is a fibre; give this role a sim:// address")
        default:
            throw BenchFileError(file: binding.options?.file ?? "bench file", line: binding.line,
                                 message: "\(binding.role.rawValue): the sim driver needs a sim:// address (or, for the link of a split bench, sim-fiber://HOST:PORT), not \(binding.address)")
        }
        if let options = binding.options {
            throw options.fail("\(binding.role.rawValue): the sim driver takes no options; its physics is set in the bench's 'simulation:' section")
        }
    }

    public func makeDevice(_ context: DriverContext) async throws -> any BenchDevice {
        let bench = context.bench
        let engine: SimulationEngine = try await context.shared.resource(Self.engineKey) { try SimulationEngine(bench: bench) }
        let role = context.binding.role
        switch role.family {
        case .laser: return SimLaser(engine: engine, role: role)
        case .modulator: return SimModulator(engine: engine, role: role)
        case .attenuator: return SimAttenuator(engine: engine, role: role)
        case .powerMeter: return SimPowerMeter(engine: engine, role: role)
        case .fiberLink: return SimFiberLink(engine: engine, role: role)
        case .clientProcessor: return SimClientProcessor(engine: engine, role: role)
        case .amplifier: return SimAmplifier(engine: engine, role: role)
        case .splitter: return SimSplitter(engine: engine, role: role)
        case .homodyneReceiver: return SimReceiver(engine: engine, role: role)
        case .opticalSwitch: return SimSwitch(engine: engine, role: role)
        case .trigger: return SimTrigger(engine: engine, role: role)
        case .shutter: return SimShutter(engine: engine, role: role)
        case .interlock: return SimInterlock(engine: engine, role: role)
        }
    }

    /// The twin moves its reference meter itself.
    public func patchPanel(_ shared: SharedResources) async throws -> (any PatchPanel)? {
        guard let engine = await shared.existing(Self.engineKey, as: SimulationEngine.self) else { return nil }
        return SimulatedPatchPanel(engine: engine)
    }

    /// The twin's hidden state (clock, drifts, noise streams), for a run's resume.
    public func checkpoint(_ shared: SharedResources) async throws -> Data? {
        guard let engine = await shared.existing(Self.engineKey, as: SimulationEngine.self) else { return nil }
        return try JSONEncoder().encode(engine.checkpoint())
    }

    public func restore(_ data: Data, _ shared: SharedResources) async throws {
        guard let engine = await shared.existing(Self.engineKey, as: SimulationEngine.self) else { return }
        try engine.restore(try JSONDecoder().decode(SimulationEngine.Checkpoint.self, from: data))
    }
}

/// The twin's patch panel: moves the simulated reference meter between probe points.
struct SimulatedPatchPanel: PatchPanel {
    let engine: SimulationEngine
    func connect(_ meter: Role, to point: ProbePoint) async throws {
        engine.update { $0.powerMeter.probe = point }
    }
}
