import BenchKit
import Foundation

/// Typed values of bench-file `options:` and instrument files, with errors that name the file and
/// line (BenchKit's `YAMLReader`).
extension YAMLReader {
    /// A duration such as "10 µs", "1.5 ms", "2 s".
    public func duration() throws(BenchFileError) -> Duration {
        let s = try string
        guard let d = DurationText.parse(s) else {
            throw fail("'\(s)' is not a duration: write a number from 0 to \(Int(DurationText.maximumSeconds)) s with s, ms, µs (or us) or ns, e.g. '10 µs'")
        }
        return d
    }

    /// A device address (`usbtmc://…`, `gpio://…`).
    public func address() throws(BenchFileError) -> DeviceAddress {
        let s = try string
        do { return try DeviceAddress(parsing: s) } catch { throw fail("\(error)") }
    }

    /// "high" or "low" (a GPIO level), as true for high.
    public func level() throws(BenchFileError) -> Bool {
        switch try string.lowercased() {
        case "high", "1": return true
        case "low", "0": return false
        default: throw fail("'\(try string)' is not a level; write 'high' or 'low'")
        }
    }

    /// An integer in `range`.
    public func int(in range: ClosedRange<Int>, _ what: String) throws(BenchFileError) -> Int {
        let v = try int()
        guard range.contains(v) else { throw fail("\(what) must be \(range.lowerBound)…\(range.upperBound), not \(v)") }
        return v
    }

    /// A number in `range`.
    public func double(in range: ClosedRange<Double>, _ what: String) throws(BenchFileError) -> Double {
        let v = try double()
        guard range.contains(v) else { throw fail("\(what) must be \(range.lowerBound)…\(range.upperBound), not \(v)") }
        return v
    }

    /// A quantity that must be positive.
    public func positive<D>(_ type: Quantity<D>.Type, _ what: String) throws(BenchFileError) -> Quantity<D> {
        let q = try quantity(type)
        guard q.si > 0 else { throw fail("\(what) must be positive, not \(q)") }
        return q
    }
}

extension RoleBinding {
    /// The binding's `options:` mapping restricted to `allowed` keys (nil when there is none).
    /// Bindings of message-based instruments (`usbtmc://`, `tcpip://`) also accept
    /// `usbtmc-quirks` (`TransportQuirks`), checked here.
    public func options(allowed: [String]) throws(BenchFileError) -> YAMLReader? {
        guard let o = options else { return nil }
        var keys = allowed
        switch address {
        case .usbtmc, .tcpip, .serial:
            keys.append(TransportQuirks.optionKey)
            _ = try TransportQuirks(binding: self)
        default: break
        }
        try o.onlyKeys(keys, in: "the options of \(role.rawValue) (driver \(driver))")
        return o
    }

    /// A failure at this binding's line.
    public func fail(_ file: String, _ message: String) -> BenchFileError {
        BenchFileError(file: file, line: line, message: "\(role.rawValue): \(message)")
    }
}

/// Durations as bench files and reports write them.
public enum DurationText {
    static let units: [(String, Double)] = [("ns", 1e-9), ("µs", 1e-6), ("us", 1e-6), ("ms", 1e-3), ("s", 1)]
    /// The longest duration an instrument option may give.
    public static let maximumSeconds = 86_400.0

    public static func parse(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        for (unit, factor) in units where t.hasSuffix(unit) {
            let number = t.dropLast(unit.count).trimmingCharacters(in: .whitespaces)
            // At most a day: no instrument option means more, and beyond 2^63 ns the conversion would trap.
            guard let v = Double(number), v.isFinite, v >= 0, v * factor <= maximumSeconds else { return nil }
            return .nanoseconds(Int64((v * factor * 1e9).rounded()))
        }
        return nil
    }

    public static func seconds(_ d: Duration) -> Double {
        let (s, atto) = d.components
        return Double(s) + Double(atto) / 1e18
    }
}

/// Numbers as the drivers send them: up to nine significant digits, no locale, exponent when
/// needed (IEEE 488.2 §7.7.2 decimal numeric program data).
public enum SCPINumber {
    public static func format(_ value: Double) -> String {
        var s = String(format: "%.9G", value)
        if s == "-0" { s = "0" }
        return s
    }
}
