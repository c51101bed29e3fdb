import BenchIO

/// The SCPI behaviour of one instrument, written once per instrument and used in two places:
/// behind `SimulatedTransport` (in-memory unit tests and simulation) and behind the
/// umockdev-emulated USBTMC device (bus tests), through `SimulatedSCPIDevice`.
///
/// A model only handles its own commands. IEEE 488.2 common commands (`*IDN?`, `*RST`,
/// `*CLS`, `*ESE`, `*ESR?`, `*SRE`, `*STB?`, `*OPC`, `*OPC?`, `*WAI`, `*TST?`, `*TRG`),
/// `SYSTem:ERRor[:NEXT]?`, the error queue, the status byte and the output queue are
/// provided by `SimulatedSCPIDevice` (IEEE 488.2 §6, §10, §11).
public protocol SCPIInstrumentModel: Sendable {
    /// The `*IDN?` reply.
    var identity: SCPIIdentity { get }
    /// Handles one program message unit, e.g. `SENS:CORR:WAV 1550` or `MEAS:POW?`.
    mutating func execute(_ command: SCPICommand) -> SCPICommandOutcome
    /// `*RST` (IEEE 488.2 §10.32): back to the instrument's defaults.
    mutating func reset()
    /// `*TRG` or the USB488 TRIGGER message.
    mutating func trigger()
    /// Instrument-specific status byte bits 0, 1, 3 (QUES) and 7 (OPER) (IEEE 488.2 §11.2,
    /// SCPI 1999 Vol. 1 §9); the other bits are computed by the device.
    var statusSummaryBits: UInt8 { get }
}

extension SCPIInstrumentModel {
    public mutating func trigger() {}
    public var statusSummaryBits: UInt8 { 0 }
}

/// What a model did with a command.
public enum SCPICommandOutcome: Sendable, Equatable {
    /// Accepted; no reply (set commands).
    case done
    /// The response message unit (no terminator) for a query.
    case reply([UInt8])
    /// Put this entry in the error queue (SCPI 1999 Vol. 2 §21.8).
    case error(SCPIErrorEntry)

    /// A text reply.
    public static func text(_ text: String) -> SCPICommandOutcome { .reply(Array(text.utf8)) }
    /// An NR3 reply, e.g. `1.234500E-03` (IEEE 488.2 §8.7.4); ±∞ and NaN as SCPI's 9.9E37 / 9.91E37.
    public static func number(_ value: Double) -> SCPICommandOutcome { .text(formatNR3(value)) }
    /// An NR1 reply.
    public static func integer(_ value: Int) -> SCPICommandOutcome { .text(String(value)) }
    /// A quoted string reply (IEEE 488.2 §8.7.8), embedded quotes doubled.
    public static func quoted(_ text: String) -> SCPICommandOutcome {
        .text("\"" + text.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"")
    }
    /// A definite-length block reply (IEEE 488.2 §8.7.9).
    public static func block(_ bytes: [UInt8]) -> SCPICommandOutcome {
        guard let encoded = try? IEEEBlock.encode(bytes) else {
            return .error(SCPIErrorEntry(code: -363, message: "Input buffer overrun"))
        }
        return .reply(encoded)
    }

    // Standard errors (SCPI 1999 Vol. 2 §21.8.9–§21.8.10).
    public static let undefinedHeader = error(-113, "Undefined header")
    public static let missingParameter = error(-109, "Missing parameter")
    public static let parameterNotAllowed = error(-108, "Parameter not allowed")
    public static let dataTypeError = error(-104, "Data type error")
    public static let illegalParameterValue = error(-224, "Illegal parameter value")
    public static let dataOutOfRange = error(-222, "Data out of range")
    public static let settingsConflict = error(-221, "Settings conflict")
    public static let invalidSuffix = error(-131, "Invalid suffix")

    public static func error(_ code: Int, _ message: String) -> SCPICommandOutcome {
        .error(SCPIErrorEntry(code: code, message: message))
    }
}

/// NR3 text with 7 significant digits, as most instruments send it: `1.234500E-03`.
public func formatNR3(_ value: Double) -> String {
    if value.isNaN { return "9.91E+37" }
    if value.isInfinite { return value > 0 ? "9.9E+37" : "-9.9E+37" }
    if value == 0 { return "0.000000E+00" }
    var exponent = 0
    var mantissa = abs(value)
    while mantissa >= 10 { mantissa /= 10; exponent += 1 }
    while mantissa < 1 { mantissa *= 10; exponent -= 1 }
    var scaled = (mantissa * 1_000_000).rounded()
    if scaled >= 10_000_000 { scaled /= 10; exponent += 1 }
    let digits = String(Int(scaled))
    let sign = value < 0 ? "-" : ""
    let exponentDigits = String(abs(exponent))
    return sign + digits.prefix(1) + "." + digits.dropFirst() + "E" + (exponent < 0 ? "-" : "+")
        + (exponentDigits.count == 1 ? "0" : "") + exponentDigits
}
