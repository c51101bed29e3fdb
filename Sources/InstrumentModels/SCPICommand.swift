import BenchIO

/// One parsed program message unit (IEEE 488.2 §7.3; SCPI 1999 Vol. 1 §6), with its header
/// resolved against the current path (a unit without a leading `:` after `;` continues in the
/// subsystem of the previous one, SCPI 1999 Vol. 1 §6.2.4).
public struct SCPICommand: Sendable, Equatable, CustomStringConvertible {
    /// Header keywords in upper case, e.g. `["SENS", "CORR", "WAV"]`, or `["*IDN"]`.
    public var keywords: [String]
    public var isQuery: Bool
    public var arguments: [SCPIArgument]

    public init(keywords: [String], isQuery: Bool, arguments: [SCPIArgument]) {
        self.keywords = keywords
        self.isQuery = isQuery
        self.arguments = arguments
    }

    /// A common command (`*IDN?`, `*RST`...).
    public var isCommon: Bool { keywords.first?.hasPrefix("*") ?? false }

    /// The resolved header, e.g. `SENS:CORR:WAV?`.
    public var header: String { keywords.joined(separator: ":") + (isQuery ? "?" : "") }

    public var description: String {
        arguments.isEmpty ? header : header + " " + arguments.map(\.description).joined(separator: ",")
    }

    /// True when the header matches a pattern in manual notation (SCPI 1999 Vol. 1 §6.2.1):
    /// upper-case letters are the short form, the whole keyword the long form, `[...]` marks
    /// an optional node and a trailing `#` a numeric suffix. Example:
    /// `"[SENSe#]:CORRection:WAVelength"` matches `SENS:CORR:WAV`, `CORR:WAV` and
    /// `SENSE2:CORRECTION:WAVELENGTH`. The query mark is not part of the pattern.
    public func matches(_ pattern: String) -> Bool { match(pattern) != nil }

    /// Like `matches`, returning the numeric suffixes of the `#` nodes (1 when omitted).
    public func match(_ pattern: String) -> [Int]? {
        let nodes = SCPIHeaderPattern.parse(pattern)
        return SCPIHeaderPattern.match(nodes[...], keywords[...])
    }

    /// The argument at `index` as a number. A suffix after it (IEEE 488.2 §7.7.3, e.g. `NM`,
    /// `DBM`, `C`) is accepted only when it is one of `suffixes` (case-insensitive), which a
    /// model lists from its manual; any other suffix gives nil, like an instrument that answers
    /// -131 "Invalid suffix" (use `suffixError(at:)`). Earlier models dropped every suffix and
    /// so hid the CLD1015's `SOUR2:TEMP 25.000C` (docs/hardware.md §2.3).
    public func number(at index: Int, suffixes: Set<String> = []) -> Double? {
        guard index < arguments.count else { return nil }
        return arguments[index].number(suffixes: suffixes)
    }

    /// -131 "Invalid suffix" when the argument at `index` is a number followed by a suffix not in
    /// `suffixes`; otherwise `fallback` (e.g. `.missingParameter`).
    public func suffixError(at index: Int, suffixes: Set<String> = [], otherwise fallback: SCPICommandOutcome) -> SCPICommandOutcome {
        guard index < arguments.count, arguments[index].number(suffixes: suffixes) == nil,
              arguments[index].numericPrefix != nil else { return fallback }
        return .invalidSuffix
    }
}

/// A parameter of a program message unit (IEEE 488.2 §7.7).
public enum SCPIArgument: Sendable, Equatable, CustomStringConvertible {
    /// Numbers (with optional unit suffix), character data (`MIN`, `ON`, `CURR`).
    case token(String)
    /// A quoted string, quotes removed and doubled quotes undone.
    case string(String)
    /// Arbitrary block data.
    case block([UInt8])

    public var description: String {
        switch self {
        case .token(let t): return t
        case .string(let s): return "\"\(s)\""
        case .block(let b): return "#<\(b.count) bytes>"
        }
    }

    /// Token or string text.
    public var text: String? {
        switch self {
        case .token(let t): return t
        case .string(let s): return s
        case .block: return nil
        }
    }

    /// A decimal numeric token (IEEE 488.2 §7.7.2) without any suffix.
    public var number: Double? { number(suffixes: []) }

    /// A decimal numeric token, optionally followed by one of `suffixes` (case-insensitive,
    /// IEEE 488.2 §7.7.3); nil for any other suffix.
    public func number(suffixes: Set<String>) -> Double? {
        guard let (value, rest) = numericPrefix else { return nil }
        if rest.isEmpty { return value }
        let suffix = String(rest.filter { $0 != " " }).uppercased()
        return suffixes.contains { $0.uppercased() == suffix } ? value : nil
    }

    /// The longest leading decimal number of a token and the text after it.
    var numericPrefix: (Double, Substring)? {
        guard case .token(let t) = self else { return nil }
        let numeric = t.prefix { "0123456789+-.eE".contains($0) }
        // "1E" would swallow the E of a unit such as "1EV"; let Double decide.
        var candidate = Substring(numeric)
        while !candidate.isEmpty {
            if let v = Double(candidate) { return (v, t[candidate.endIndex...]) }
            candidate = candidate.dropLast()
        }
        return nil
    }

    /// `ON`/`OFF`/`1`/`0` (SCPI boolean).
    public var boolean: Bool? {
        switch text?.uppercased() {
        case "ON", "1": return true
        case "OFF", "0": return false
        default: return nil
        }
    }

    /// Upper-cased character data, for mnemonics like `MIN`, `MAX`, `DBM`.
    public var mnemonic: String? {
        guard case .token(let t) = self else { return nil }
        return t.uppercased()
    }
}

enum SCPIHeaderPattern {
    struct Node {
        var short: String
        var long: String
        var optional: Bool
        var suffix: Bool
    }

    static func parse(_ pattern: String) -> [Node] {
        var nodes: [Node] = []
        var text = pattern
        if text.hasPrefix(":") { text.removeFirst() }
        var i = text.startIndex
        var current = ""
        var optional = false
        func flush() {
            guard !current.isEmpty else { return }
            var keyword = current
            let suffix = keyword.hasSuffix("#")
            if suffix { keyword.removeLast() }
            nodes.append(Node(short: String(keyword.filter { $0.isUppercase || $0.isNumber || $0 == "*" }),
                              long: keyword.uppercased(), optional: optional, suffix: suffix))
            current = ""
            optional = false
        }
        while i < text.endIndex {
            let ch = text[i]
            switch ch {
            case "[": flush(); optional = true
            case "]": flush()
            case ":": flush()
            default: current.append(ch)
            }
            i = text.index(after: i)
        }
        flush()
        return nodes
    }

    static func match(_ nodes: ArraySlice<Node>, _ keywords: ArraySlice<String>) -> [Int]? {
        guard let node = nodes.first else { return keywords.isEmpty ? [] : nil }
        if let keyword = keywords.first, let suffix = matchKeyword(node, keyword),
           let rest = match(nodes.dropFirst(), keywords.dropFirst()) {
            return (node.suffix ? [suffix] : []) + rest
        }
        if node.optional, let rest = match(nodes.dropFirst(), keywords) {
            return (node.suffix ? [1] : []) + rest
        }
        return nil
    }

    /// The numeric suffix (1 when absent) if the keyword matches the node.
    static func matchKeyword(_ node: Node, _ keyword: String) -> Int? {
        var word = keyword
        var suffix = 1
        if node.suffix {
            let digits = word.reversed().prefix { $0.isNumber }
            if !digits.isEmpty {
                suffix = Int(String(digits.reversed())) ?? 1
                word.removeLast(digits.count)
            }
        }
        return word == node.short || word == node.long ? suffix : nil
    }
}
