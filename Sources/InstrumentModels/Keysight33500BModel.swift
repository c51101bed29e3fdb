import BenchIO
import Foundation

/// The SCPI behaviour of a two-channel Keysight 33500B-series AWG (33500B/33600A Operating and
/// Service Guide, SCPI Programming Reference): volatile arbitrary waveforms uploaded with
/// `DATA:ARB:DAC` (byte order from `FORM:BORD`), arb selection, sample rate, amplitude and
/// offset checked against the output window for the programmed load, DC function, `APPLy`,
/// outputs, loads, triggered bursts, and arb sequences (`DATA:SEQuence`, DATA subsystem: a
/// definite-length block `"name","segment",repeat,playControl,markerMode,markerPoint,…` naming
/// segments already in volatile memory; play controls `once`, `onceWaitTrig`, `repeat`,
/// `repeatInf`, `repeatTilTrig`; marker modes `maintain`, `lowAtStart`, `highAtStart`,
/// `highStartGoLow`). A selected sequence whose every segment is `onceWaitTrig` plays its first
/// segment, then one segment per trigger (model assumption, to check on hardware: the output
/// holds the segment's last point while it waits). Every out-of-range request queues -222 or
/// -221, like the instrument.
public struct Keysight33500BModel: SCPIInstrumentModel {
    public struct Channel: Sendable, Equatable {
        public var function = "SIN"
        public var arbs: [String: [Int16]] = [:]
        public var selectedArb: String?
        public var sampleRate = 40_000.0
        public var amplitude = 0.1
        public var offset = 0.0
        public var fiftyOhm = true
        public var output = false
        public var filter = "NORM"
        public var burst = false
        public var burstMode = "TRIG"
        public var burstCycles = 1
        public var triggerSource = "IMM"
        /// Bursts played on external triggers.
        public var bursts = 0
        /// Sequences in volatile memory by name: their segments in order.
        public var sequences: [String: [SequenceStep]] = [:]
        /// The segments a selected sequence played, in order (its first on selection, then one
        /// per external trigger).
        public var playedSegments: [String] = []
        var sequencePosition = 0
        public init() {}

        var window: Double { fiftyOhm ? 5 : 10 }
        var amplitudeRange: ClosedRange<Double> { fiftyOhm ? 0.001...10 : 0.002...20 }
    }

    /// One entry of a sequence (DATA:SEQuence).
    public struct SequenceStep: Sendable, Equatable {
        public var segment: String
        public var repeatCount: Int
        public var playControl: String
        public var markerMode: String
        public var markerPoint: Int
    }

    public static let playControls = ["ONCE", "ONCEWAITTRIG", "REPEAT", "REPEATINF", "REPEATTILTRIG"]
    public static let markerModes = ["MAINTAIN", "LOWATSTART", "HIGHATSTART", "HIGHSTARTGOLOW"]

    public var identity: SCPIIdentity
    public var channels = [Channel(), Channel()]
    public var byteOrderSwapped = false
    /// Arb length limit of a standard-memory unit: "from a minimum of 8 points … up to 1,000,000
    /// points" (33500 help, Waveform Generation Tutorial); 1,048,576 is refused.
    public var memoryPoints = 1_000_000
    public var maxSampleRate = 160e6

    public init(serialNumber: String = "MY52600001", firmware: String = "4.00-1.19-2.00-52-00") {
        identity = SCPIIdentity(manufacturer: "Agilent Technologies", model: "33522B", serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        channels = [Channel(), Channel()]
        byteOrderSwapped = false
    }

    /// The voltages channel `n` (1-based) plays per sample of its selected arb, nil unless it is
    /// in ARB mode.
    public func playback(channel n: Int) -> [Double]? {
        let ch = channels[n - 1]
        guard ch.function == "ARB", let name = ch.selectedArb, let codes = ch.arbs[name] else { return nil }
        return codes.map { ch.offset + Double($0) / 32767 * ch.amplitude / 2 }
    }

    /// The DC level channel `n` outputs in DC mode (nil otherwise).
    public func level(channel n: Int) -> Double? {
        channels[n - 1].function == "DC" ? channels[n - 1].offset : nil
    }

    /// A pulse on the rear-panel trigger input: every channel in triggered-burst mode with an
    /// external trigger source and its output on plays one burst; every channel waiting in a
    /// selected sequence (burst off, output on, external trigger) plays its next segment.
    public mutating func externalTrigger() {
        for i in channels.indices where channels[i].burst && channels[i].triggerSource == "EXT" && channels[i].output {
            channels[i].bursts += 1
        }
        for i in channels.indices {
            let ch = channels[i]
            guard !ch.burst, ch.triggerSource == "EXT", ch.output, ch.function == "ARB",
                  let name = ch.selectedArb, let steps = ch.sequences[name], !steps.isEmpty else { continue }
            let next = (ch.sequencePosition + 1) % steps.count
            channels[i].sequencePosition = next
            channels[i].playedSegments.append(steps[next].segment)
        }
    }

    /// The voltages segment `name` of channel `n` plays with the channel's present amplitude and
    /// offset, nil if it is not in volatile memory.
    public func segmentPlayback(channel n: Int, _ name: String) -> [Double]? {
        let ch = channels[n - 1]
        return ch.arbs[name].map { codes in codes.map { ch.offset + Double($0) / 32767 * ch.amplitude / 2 } }
    }

    /// True when a selected sequence waits for a trigger after every segment.
    static func waitsForTriggers(_ ch: Channel) -> Bool {
        guard let name = ch.selectedArb, let steps = ch.sequences[name] else { return false }
        return steps.allSatisfy { $0.playControl == "ONCEWAITTRIG" }
    }

    static func validName(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter, name.count <= 12 else { return false }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
    }

    private func fits(_ ch: Channel, amplitude: Double, offset: Double) -> Bool {
        ch.amplitudeRange.contains(amplitude) && abs(offset) + amplitude / 2 <= ch.window + 1e-12
    }

    /// A channel that plays its arb continuously to its output: function ARB, output on, burst
    /// off. What `APPLy:ARB` leaves behind ("APPLy sets trigger source to IMMediate", burst off,
    /// output on); on the bench it drives the modulators outside the shot window.
    /// A sequence that waits for a trigger after every segment does not free-run.
    public static func freeRunning(_ ch: Channel) -> Bool { ch.function == "ARB" && ch.output && !ch.burst && !waitsForTriggers(ch) }
    /// How often a channel entered the free-running state (tests expect 0 from the drivers).
    public private(set) var freeRunningEpisodes = [0, 0]

    public mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        let before = channels.map(Self.freeRunning)
        let outcome = executeCommand(c)
        for (i, was) in before.enumerated() where !was && Self.freeRunning(channels[i]) { freeRunningEpisodes[i] += 1 }
        return outcome
    }

    private mutating func executeCommand(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.matches("FORMat:BORDer") {
            if c.isQuery { return .text(byteOrderSwapped ? "SWAP" : "NORM") }
            switch c.arguments.first?.mnemonic {
            case "SWAP"?, "SWAPPED"?: byteOrderSwapped = true
            case "NORM"?, "NORMAL"?: byteOrderSwapped = false
            default: return .illegalParameterValue
            }
            return .done
        }
        if let n = c.match("OUTPut#:LOAD")?.first {
            guard (1...2).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .text(channels[n - 1].fiftyOhm ? "+5.000000000000000E+01" : "+9.900000000000000E+37") }
            switch c.arguments.first?.mnemonic {
            case "INF"?, "INFINITY"?: channels[n - 1].fiftyOhm = false
            case let m? where Double(m) == 50: channels[n - 1].fiftyOhm = true
            default: return .dataOutOfRange
            }
            return .done
        }
        if let n = c.match("OUTPut#[:STATe]")?.first {
            guard (1...2).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .integer(channels[n - 1].output ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            channels[n - 1].output = on
            return .done
        }
        if let n = c.match("TRIGger#:SOURce")?.first {
            guard (1...2).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .text(channels[n - 1].triggerSource) }
            guard let m = c.arguments.first?.mnemonic, ["IMM", "EXT", "TIM", "BUS"].contains(String(m.prefix(3))) else { return .illegalParameterValue }
            channels[n - 1].triggerSource = String(m.prefix(3))
            return .done
        }
        let n = sourceSuffix(c)
        guard (1...2).contains(n) else { return .undefinedHeader }
        return executeChannel(c, &channels[n - 1])
    }

    /// The channel of a `[SOURce#]:…` command (1 when the SOURce node is omitted).
    private func sourceSuffix(_ c: SCPICommand) -> Int {
        guard let first = c.keywords.first else { return 1 }
        let digits = String(first.reversed().prefix { $0.isNumber }.reversed())
        let word = first.dropLast(digits.count)
        if word == "SOUR" || word == "SOURCE" { return Int(digits) ?? 1 }
        return 1
    }

    /// A selected sequence starts over: its first segment plays (and waits for a trigger).
    private func startSequence(_ ch: inout Channel) {
        guard ch.function == "ARB", let name = ch.selectedArb, let steps = ch.sequences[name], let first = steps.first else { return }
        ch.sequencePosition = 0
        ch.playedSegments.append(first.segment)
    }

    private func executeChannel(_ c: SCPICommand, _ ch: inout Channel) -> SCPICommandOutcome {
        if !c.isQuery && c.matches("[SOURce#]:DATA:VOLatile:CLEar") {
            guard ch.function != "ARB" else { return .settingsConflict }
            ch.arbs = [:]
            ch.sequences = [:]
            ch.selectedArb = nil
            return .done
        }
        if !c.isQuery && c.matches("[SOURce#]:DATA:ARBitrary#:DAC") {
            guard c.arguments.count >= 2, let name = c.arguments[0].text?.uppercased() else { return .missingParameter }
            guard Self.validName(name) else { return .illegalParameterValue }
            var codes: [Int16] = []
            if case .block(let bytes) = c.arguments[1] {
                guard bytes.count % 2 == 0 else { return .error(-161, "Invalid block data") }
                for i in stride(from: 0, to: bytes.count, by: 2) {
                    let raw = byteOrderSwapped ? UInt16(bytes[i]) | UInt16(bytes[i + 1]) << 8 : UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])
                    codes.append(Int16(bitPattern: raw))
                }
            } else {
                for a in c.arguments.dropFirst() {
                    guard let v = a.number, v == v.rounded() else { return .dataTypeError }
                    guard abs(v) <= 32767 else { return .dataOutOfRange }
                    codes.append(Int16(v))
                }
            }
            guard codes.count >= 8, codes.count <= memoryPoints else { return .dataOutOfRange }
            guard codes.allSatisfy({ $0 != Int16.min }) else { return .dataOutOfRange }
            ch.arbs[name] = codes
            return .done
        }
        if !c.isQuery && c.matches("[SOURce#]:DATA:SEQuence") {
            guard case .block(let bytes)? = c.arguments.first else { return .dataTypeError }
            guard let text = String(bytes: bytes, encoding: .ascii) else { return .error(-161, "Invalid block data") }
            let fields = text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            guard fields.count >= 6, (fields.count - 1) % 5 == 0 else { return .missingParameter }
            let name = fields[0].uppercased()
            guard Self.validName(name), ch.arbs[name] == nil else { return .illegalParameterValue }
            var steps: [SequenceStep] = []
            for k in stride(from: 1, to: fields.count, by: 5) {
                let segment = fields[k].uppercased()
                guard let codes = ch.arbs[segment] else { return .error(-224, "Illegal parameter value; segment not in volatile memory") }
                guard let count = Int(fields[k + 1]), count >= 0, count <= 1_000_000 else { return .dataOutOfRange }
                let control = fields[k + 2].uppercased(), marker = fields[k + 3].uppercased()
                guard Self.playControls.contains(control), Self.markerModes.contains(marker) else { return .illegalParameterValue }
                guard let point = Int(fields[k + 4]), point >= 4, point <= codes.count else { return .dataOutOfRange }
                steps.append(SequenceStep(segment: segment, repeatCount: count, playControl: control, markerMode: marker, markerPoint: point))
            }
            ch.sequences[name] = steps
            return .done
        }
        if c.matches("[SOURce#]:FUNCtion:ARBitrary:SRATe") {
            if c.isQuery { return .number(ch.sampleRate) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            guard v >= 1e-6, v <= maxSampleRate else { return .dataOutOfRange }
            ch.sampleRate = v
            return .done
        }
        if c.matches("[SOURce#]:FUNCtion:ARBitrary:FILTer") {
            if c.isQuery { return .text(ch.filter) }
            guard let m = c.arguments.first?.mnemonic, ["NORM", "NORMAL", "STEP", "OFF"].contains(m) else { return .illegalParameterValue }
            ch.filter = String(m.prefix(4))
            return .done
        }
        if c.matches("[SOURce#]:FUNCtion:ARBitrary") {
            if c.isQuery { return .quoted(ch.selectedArb ?? "") }
            guard let name = c.arguments.first?.text?.uppercased() else { return .missingParameter }
            guard ch.arbs[name] != nil || ch.sequences[name] != nil else { return .error(-224, "Illegal parameter value; arb waveform not in volatile memory") }
            ch.selectedArb = name
            startSequence(&ch)
            return .done
        }
        if c.matches("[SOURce#]:FUNCtion[:SHAPe]") {
            if c.isQuery { return .text(ch.function) }
            guard let m = c.arguments.first?.mnemonic else { return .missingParameter }
            let f = String(m.prefix(m.hasPrefix("ARB") ? 3 : 4))
            guard ["SIN", "SINU", "SQU", "SQUA", "RAMP", "PULS", "NOIS", "DC", "ARB", "TRI", "TRIA", "PRBS"].contains(f) else { return .illegalParameterValue }
            // 33500 help, BURSt subsystem: a burst may be sine, square, triangle, ramp, pulse,
            // PRBS or arb; "DC is not allowed" (noise only gated). Asking anyway conflicts.
            if ch.burst && (f == "DC" || (f == "NOIS" && ch.burstMode == "TRIG")) { return .settingsConflict }
            if f == "ARB" && ch.selectedArb == nil { return .settingsConflict }
            let wasArb = ch.function == "ARB"
            ch.function = f == "SINU" ? "SIN" : f
            if ch.function == "ARB" && !wasArb { startSequence(&ch) }
            return .done
        }
        if c.matches("[SOURce#]:VOLTage[:LEVel][:IMMediate]:OFFSet") {
            if c.isQuery { return .number(ch.offset) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            if ch.function == "DC" {
                guard abs(v) <= ch.window + 1e-12 else { return .dataOutOfRange }
            } else {
                guard fits(ch, amplitude: ch.amplitude, offset: v) else { return .dataOutOfRange }
            }
            ch.offset = v
            return .done
        }
        if c.matches("[SOURce#]:VOLTage[:LEVel][:IMMediate][:AMPLitude]") {
            if c.isQuery { return .number(ch.amplitude) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            guard fits(ch, amplitude: v, offset: ch.function == "DC" ? 0 : ch.offset) else { return .dataOutOfRange }
            ch.amplitude = v
            return .done
        }
        if !c.isQuery && c.matches("[SOURce#]:APPLy:ARBitrary") {
            guard ch.selectedArb != nil else { return .settingsConflict }
            guard c.arguments.count == 3, let r = c.number(at: 0), let a = c.number(at: 1), let o = c.number(at: 2) else { return .missingParameter }
            guard r >= 1e-6, r <= maxSampleRate, fits(ch, amplitude: a, offset: o) else { return .dataOutOfRange }
            ch.function = "ARB"
            ch.sampleRate = r
            ch.amplitude = a
            ch.offset = o
            ch.burst = false
            ch.output = true
            return .done
        }
        if !c.isQuery && c.matches("[SOURce#]:APPLy:DC") {
            guard c.arguments.count == 3, let o = c.number(at: 2) else { return .missingParameter }
            guard abs(o) <= ch.window + 1e-12 else { return .dataOutOfRange }
            ch.function = "DC"
            ch.offset = o
            ch.burst = false
            ch.output = true
            return .done
        }
        if c.matches("[SOURce#]:BURSt:MODE") {
            if c.isQuery { return .text(ch.burstMode) }
            guard let m = c.arguments.first?.mnemonic, ["TRIG", "TRIGGERED", "GAT", "GATED"].contains(m) else { return .illegalParameterValue }
            ch.burstMode = m.hasPrefix("TRIG") ? "TRIG" : "GAT"
            return .done
        }
        if c.matches("[SOURce#]:BURSt:NCYCles") {
            if c.isQuery { return .integer(ch.burstCycles) }
            guard let v = c.number(at: 0), v == v.rounded(), v >= 1, v <= 100_000_000 else { return .dataOutOfRange }
            ch.burstCycles = Int(v)
            return .done
        }
        if c.matches("[SOURce#]:BURSt:STATe") {
            if c.isQuery { return .integer(ch.burst ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            if on && ch.function == "DC" { return .settingsConflict }
            ch.burst = on
            return .done
        }
        return .undefinedHeader
    }
}
