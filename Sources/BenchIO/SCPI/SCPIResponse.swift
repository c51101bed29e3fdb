/// Parsing of SCPI response data (IEEE 488.2 §8.7: NR1, NR2, NR3 numbers; SCPI 1999 Vol. 1
/// §7.2.1 special values).
public enum SCPIResponse {
    /// SCPI's representation of +∞ (9.9E37), −∞ (−9.9E37) and not-a-number (9.91E37).
    public static let infinityValue = 9.9e37
    public static let notANumberValue = 9.91e37

    /// Parses NR1 (`42`, `+42`), NR2 (`1.5`) or NR3 (`1.234500E-03`) text; maps 9.9E37 to
    /// ±infinity and 9.91E37 to NaN. Nil for anything else.
    public static func number(_ text: String) -> Double? {
        let t = text.trimmingSCPIWhitespace()
        guard !t.isEmpty, t.allSatisfy({ "0123456789+-.eE".contains($0) }) else { return nil }
        guard let value = Double(t) else { return nil }
        if value == notANumberValue { return .nan }
        if value == infinityValue { return .infinity }
        if value == -infinityValue { return -.infinity }
        return value
    }

    /// Parses an integer (NR1, or an NR2/NR3 with an integral value such as `1.000E+01`).
    public static func integer(_ text: String) -> Int? {
        let t = text.trimmingSCPIWhitespace()
        var digits = t
        if digits.hasPrefix("+") { digits.removeFirst() }
        if let value = Int(digits) { return value }
        guard let d = number(t), d.isFinite, d == d.rounded(), abs(d) < 9.0e18 else { return nil }
        return Int(d)
    }

    /// Parses a boolean: `1`/`0` (IEEE 488.2 NR1) or `ON`/`OFF` (SCPI).
    public static func boolean(_ text: String) -> Bool? {
        switch text.trimmingSCPIWhitespace().uppercased() {
        case "1", "ON", "+1": return true
        case "0", "OFF", "+0": return false
        default: return nil
        }
    }

    /// Parses a comma-separated list of numbers (`1.0,2.0,3.0`). Nil if any element is not one.
    public static func numbers(_ text: String) -> [Double]? {
        let t = text.trimmingSCPIWhitespace()
        if t.isEmpty { return [] }
        var values: [Double] = []
        for part in t.split(separator: ",", omittingEmptySubsequences: false) {
            guard let v = number(String(part)) else { return nil }
            values.append(v)
        }
        return values
    }

    /// Removes one trailing terminator (`\n` or `\r\n`).
    public static func strippingTerminator(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        if b.last == 0x0A { b.removeLast() }
        if b.last == 0x0D { b.removeLast() }
        return b
    }
}
