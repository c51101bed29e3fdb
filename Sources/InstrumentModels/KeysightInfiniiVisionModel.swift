import BenchIO

/// The SCPI behaviour of a Keysight InfiniiVision oscilloscope as a digitiser (3000 X-Series
/// Programmer's Guide): waveform transfer set-up (`:WAV:SOUR/FORM/BYT/UNS/POIN:MODE`), the
/// preamble and `:WAV:DATA?` blocks (BYTE or WORD, signed or unsigned, either byte order), time
/// base range and reference, external or channel edge trigger with AUTO/NORMal sweep, real-time
/// or segmented acquisition, `:SINGle`, `:DIGitize`, `:STOP`, `:OPER:COND?` (Run bit 3).
///
/// The input signal is `signal(segment, t)` in volts, t in seconds after the trigger; the model
/// samples it at `sampleRate` and quantises it with an 8-bit ADC over `fullScale` volts around
/// the channel offset (codes clamp at the rails −128 and +127: clipping).
///
/// Where the real scope would disagree with a careless driver, so does the model:
/// - `:WAVeform:POINts` (InfiniiVision programmer's guide, :WAVeform introduction): the number
///   of points transferred; 1000 after a reset, so a record is decimated to it unless the driver
///   asks for MAXimum;
/// - `:ACQuire:TYPE NORMal|PEAK|AVERage|HRESolution` is the preamble's type field (0…3); in
///   HRESolution consecutive ADC samples are averaged (a 2-point boxcar here), so the record is
///   not raw samples;
/// - `:CHANnel<n>:RANGe/SCALe/OFFSet/COUPling/IMPedance` set the front end the ADC sees;
/// - `:WAVeform:SEGMented:COUNt?` (segments actually acquired) and `:WAVeform:SEGMented:TTAG?`
///   (time of the current segment after the first), as in Keysight's segmented-memory example.
public struct KeysightInfiniiVisionModel: SCPIInstrumentModel {
    public var identity: SCPIIdentity
    public var sampleRate = 100e6
    /// Vertical full scale (8 divisions), V.
    public var fullScale = 0.8
    public var maxPoints = 4_000_000
    public var maxSegments = 1000
    public var signal: @Sendable (_ segment: Int, _ time: Double) -> Double = { _, _ in 0 }

    public var waveformSource = 1
    public var format = "BYTE"
    public var lsbFirst = false
    public var unsigned = true
    public var pointsMode = "NORM"
    public var triggerSource = "CHAN1"
    public var sweepAuto = true
    public var timebaseRange = 1e-3
    public var reference = "CENT"
    public var segmented = false
    public var segmentCount = 2
    public var segmentIndex = 1
    /// `:WAV:POIN`: nil = MAXimum (every point of the record).
    public var pointsSetting: Int? = 1000
    /// "NORM", "PEAK", "AVER" or "HRES".
    public var acquisitionType = "NORM"
    public var channelOffset = 0.0
    public var coupling = "DC"
    public var fiftyOhmInput = false
    /// `:TRIG:EDGE:LEV` for the EXT source, V.
    public var triggerLevel = 0.0
    /// Trigger times of the acquired segments, s.
    public private(set) var triggerTimes: [Double] = []
    private var clock = 0.0
    /// Armed (:SINGle or :RUN) and not yet complete.
    public private(set) var running = false
    /// The acquired records (ADC codes, −128…127), one per segment.
    public private(set) var records: [[Int8]] = []
    public private(set) var triggers = 0

    public init(serialNumber: String = "MY55100001", firmware: String = "07.50.2021102830") {
        identity = SCPIIdentity(manufacturer: "KEYSIGHT TECHNOLOGIES", model: "MSO-X 3014T", serialNumber: serialNumber, firmware: firmware)
    }

    public mutating func reset() {
        format = "BYTE"; lsbFirst = false; unsigned = true; pointsMode = "NORM"; triggerSource = "CHAN1"
        sweepAuto = true; timebaseRange = 1e-3; reference = "CENT"; segmented = false; running = false; records = []
        pointsSetting = 1000; acquisitionType = "NORM"; channelOffset = 0; coupling = "DC"; fiftyOhmInput = false; triggerLevel = 0
        triggerTimes = []
    }

    public mutating func trigger() { externalTrigger() }

    /// A pulse on the EXT TRIG input (or `*TRG`): while armed with the external source, records
    /// one segment; the acquisition completes when all segments are in.
    /// `at`: the trigger's time in seconds (default: 1 ms after the previous one); tests leave
    /// gaps to model a missed trigger.
    public mutating func externalTrigger(at time: Double? = nil) {
        triggers += 1
        clock = time ?? clock + 1e-3
        guard running, triggerSource == "EXT" else { return }
        acquireRecord()
        if records.count >= (segmented ? segmentCount : 1) { running = false }
    }

    var points: Int { max(1, min(maxPoints, Int((timebaseRange * sampleRate).rounded()))) }
    var xOrigin: Double {
        switch reference {
        case "LEFT": return 0
        case "RIGH": return -timebaseRange
        default: return -timebaseRange / 2
        }
    }

    private mutating func acquireRecord() {
        let k = records.count
        if k == 0 { triggerTimes = [] }
        triggerTimes.append(clock)
        let lsb = fullScale / 256
        var record = (0..<points).map { i -> Int8 in
            let v = signal(k, xOrigin + Double(i) / sampleRate) - channelOffset
            return Int8(max(-128, min(127, (v / lsb).rounded())))
        }
        if acquisitionType == "HRES" {
            record = record.indices.map { i in Int8((Int(record[i]) + Int(record[max(0, i - 1)])) / 2) }
        }
        records.append(record)
    }

    /// Decimation factor of the transfer: the record is thinned to `:WAV:POIN` points.
    private func stride(of record: [Int8]) -> Int {
        guard let n = pointsSetting, n > 0, n < record.count else { return 1 }
        return (record.count + n - 1) / n
    }

    private func transferred(_ record: [Int8]) -> [Int8] {
        let k = stride(of: record)
        return k == 1 ? record : Swift.stride(from: 0, to: record.count, by: k).map { record[$0] }
    }

    private var typeCode: Int { ["NORM": 0, "PEAK": 1, "AVER": 2, "HRES": 3][acquisitionType] ?? 0 }

    private var word: Bool { format == "WORD" }

    public mutating func execute(_ c: SCPICommand) -> SCPICommandOutcome {
        if c.matches("WAVeform:SOURce") {
            if c.isQuery { return .text("CHAN\(waveformSource)") }
            guard let m = c.arguments.first?.mnemonic, m.hasPrefix("CHAN"), let n = Int(m.drop { !$0.isNumber }), (1...4).contains(n) else {
                return .illegalParameterValue
            }
            waveformSource = n
            return .done
        }
        if c.matches("WAVeform:FORMat") {
            if c.isQuery { return .text(format) }
            guard let m = c.arguments.first?.mnemonic, ["WORD", "BYTE", "ASC", "ASCII"].contains(m) else { return .illegalParameterValue }
            format = String(m.prefix(4))
            return .done
        }
        if c.matches("WAVeform:BYTeorder") {
            if c.isQuery { return .text(lsbFirst ? "LSBF" : "MSBF") }
            guard let m = c.arguments.first?.mnemonic, m.hasPrefix("LSBF") || m.hasPrefix("MSBF") else { return .illegalParameterValue }
            lsbFirst = m.hasPrefix("LSBF")
            return .done
        }
        if c.matches("WAVeform:UNSigned") {
            if c.isQuery { return .integer(unsigned ? 1 : 0) }
            guard let on = c.arguments.first?.boolean else { return .illegalParameterValue }
            unsigned = on
            return .done
        }
        if c.matches("WAVeform:POINts:MODE") {
            if c.isQuery { return .text(pointsMode) }
            guard let m = c.arguments.first?.mnemonic, ["NORM", "NORMAL", "MAX", "MAXIMUM", "RAW"].contains(m) else { return .illegalParameterValue }
            pointsMode = String(m.prefix(4))
            return .done
        }
        if c.matches("WAVeform:POINts") {
            if c.isQuery { return .integer(pointsSetting ?? currentRecord?.count ?? points) }
            if let m = c.arguments.first?.mnemonic, m == "MAX" || m == "MAXIMUM" { pointsSetting = nil; return .done }
            guard let v = c.number(at: 0), v == v.rounded(), v >= 100 else { return .dataOutOfRange }
            pointsSetting = Int(v)
            return .done
        }
        if c.matches("ACQuire:TYPE") {
            if c.isQuery { return .text(acquisitionType) }
            guard let m = c.arguments.first?.mnemonic else { return .missingParameter }
            let t = String(m.prefix(4))
            guard ["NORM", "PEAK", "AVER", "HRES"].contains(t) else { return .illegalParameterValue }
            acquisitionType = t
            return .done
        }
        if let n = c.match("CHANnel#:RANGe")?.first {
            guard (1...4).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .number(fullScale) }
            guard let v = c.number(at: 0), v >= 8e-3, v <= 40 else { return .dataOutOfRange }
            fullScale = v
            return .done
        }
        if let n = c.match("CHANnel#:SCALe")?.first {
            guard (1...4).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .number(fullScale / 8) }
            guard let v = c.number(at: 0), v >= 1e-3, v <= 5 else { return .dataOutOfRange }
            fullScale = 8 * v
            return .done
        }
        if let n = c.match("CHANnel#:OFFSet")?.first {
            guard (1...4).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .number(channelOffset) }
            guard let v = c.number(at: 0), abs(v) <= 20 else { return .dataOutOfRange }
            channelOffset = v
            return .done
        }
        if let n = c.match("CHANnel#:COUPling")?.first {
            guard (1...4).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .text(coupling) }
            guard let m = c.arguments.first?.mnemonic, m == "DC" || m == "AC" else { return .illegalParameterValue }
            coupling = m
            return .done
        }
        if let n = c.match("CHANnel#:IMPedance")?.first {
            guard (1...4).contains(n) else { return .undefinedHeader }
            if c.isQuery { return .text(fiftyOhmInput ? "FIFT" : "ONEM") }
            guard let m = c.arguments.first?.mnemonic, m.hasPrefix("FIFT") || m.hasPrefix("ONEM") else { return .illegalParameterValue }
            fiftyOhmInput = m.hasPrefix("FIFT")
            return .done
        }
        if c.matches("TRIGger[:EDGE]:LEVel") {
            if c.isQuery { return .number(triggerLevel) }
            guard let v = c.number(at: 0), abs(v) <= 8 else { return .dataOutOfRange }
            triggerLevel = v
            return .done
        }
        if c.isQuery && c.matches("WAVeform:SEGMented:COUNt") { return .integer(segmented ? records.count : 0) }
        if c.isQuery && c.matches("WAVeform:SEGMented:TTAG") {
            guard !records.isEmpty, triggerTimes.count == records.count else { return .error(-230, "Data corrupt or stale") }
            let k = min(records.count, max(1, segmentIndex)) - 1
            return .number(triggerTimes[k] - triggerTimes[0])
        }
        if c.isQuery && c.matches("WAVeform:PREamble") {
            guard let full = currentRecord else { return .error(-230, "Data corrupt or stale") }
            let record = transferred(full)
            let yinc = word ? fullScale / 65536 : fullScale / 256
            let yref: Double = unsigned ? (word ? 32768 : 128) : 0
            let fields: [String] = [word ? "1" : "0", "\(typeCode)", "\(record.count)", "1", formatNR3(Double(stride(of: full)) / sampleRate),
                                    formatNR3(xOrigin), "0", formatNR3(yinc), formatNR3(channelOffset), String(Int(yref))]
            return .text(fields.joined(separator: ","))
        }
        if c.isQuery && c.matches("WAVeform:DATA") {
            guard let full = currentRecord else { return .error(-230, "Data corrupt or stale") }
            let record = transferred(full)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(record.count * (word ? 2 : 1))
            for code in record {
                if word {
                    let w = Int(code) * 256 + (unsigned ? 32768 : 0)
                    let u = UInt16(truncatingIfNeeded: w)
                    bytes += lsbFirst ? [UInt8(u & 0xFF), UInt8(u >> 8)] : [UInt8(u >> 8), UInt8(u & 0xFF)]
                } else {
                    bytes.append(UInt8(truncatingIfNeeded: Int(code) + (unsigned ? 128 : 0)))
                }
            }
            return .block(bytes)
        }
        if c.matches("TRIGger[:EDGE]:SOURce") {
            if c.isQuery { return .text(triggerSource) }
            guard let m = c.arguments.first?.mnemonic else { return .missingParameter }
            if m.hasPrefix("EXT") { triggerSource = "EXT" } else if m.hasPrefix("CHAN") { triggerSource = m } else { return .illegalParameterValue }
            return .done
        }
        if c.matches("TRIGger:SWEep") {
            if c.isQuery { return .text(sweepAuto ? "AUTO" : "NORM") }
            guard let m = c.arguments.first?.mnemonic, ["AUTO", "NORM", "NORMAL"].contains(m) else { return .illegalParameterValue }
            sweepAuto = m == "AUTO"
            return .done
        }
        if c.matches("TIMebase:RANGe") {
            if c.isQuery { return .number(timebaseRange) }
            guard let v = c.number(at: 0) else { return .missingParameter }
            guard v >= 2e-9, v <= 500 else { return .dataOutOfRange }
            timebaseRange = v
            return .done
        }
        if c.matches("TIMebase:REFerence") {
            if c.isQuery { return .text(reference) }
            guard let m = c.arguments.first?.mnemonic, ["LEFT", "CENT", "CENTER", "RIGH", "RIGHT"].contains(m) else { return .illegalParameterValue }
            reference = String(m.prefix(4))
            return .done
        }
        if c.matches("ACQuire:MODE") {
            if c.isQuery { return .text(segmented ? "SEGM" : "RTIM") }
            guard let m = c.arguments.first?.mnemonic else { return .missingParameter }
            if m.hasPrefix("SEGM") { segmented = true } else if m.hasPrefix("RTIM") { segmented = false } else { return .illegalParameterValue }
            return .done
        }
        if c.matches("ACQuire:SEGMented:COUNt") {
            if c.isQuery { return .integer(segmentCount) }
            guard let v = c.number(at: 0), v == v.rounded() else { return .dataTypeError }
            guard v >= 2, Int(v) <= maxSegments else { return .dataOutOfRange }
            segmentCount = Int(v)
            return .done
        }
        if c.matches("ACQuire:SEGMented:INDex") {
            if c.isQuery { return .integer(segmentIndex) }
            guard let v = c.number(at: 0), v == v.rounded() else { return .dataTypeError }
            guard v >= 1, Int(v) <= max(1, records.count) else { return .dataOutOfRange }
            segmentIndex = Int(v)
            return .done
        }
        if c.isQuery && c.matches("ACQuire:SRATe") { return .number(sampleRate) }
        if !c.isQuery && c.matches("SINGle") {
            records = []
            segmentIndex = 1
            running = true
            if sweepAuto {
                while records.count < (segmented ? segmentCount : 1) { acquireRecord() }
                running = false
            }
            return .done
        }
        if !c.isQuery && c.matches("DIGitize") {
            records = []
            segmentIndex = 1
            if sweepAuto {
                while records.count < (segmented ? segmentCount : 1) { acquireRecord() }
                running = false
            } else {
                running = true
            }
            return .done
        }
        if !c.isQuery && c.matches("STOP") { running = false; return .done }
        if !c.isQuery && c.matches("RUN") { running = true; return .done }
        if c.isQuery && c.matches("OPERegister:CONDition") { return .integer(running ? 8 : 0) }
        return .undefinedHeader
    }

    private var currentRecord: [Int8]? {
        guard !records.isEmpty else { return nil }
        return records[min(records.count, max(1, segmentIndex)) - 1]
    }
}
