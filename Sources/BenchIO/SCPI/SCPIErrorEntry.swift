/// One entry of an instrument's error/event queue, as returned by `SYSTem:ERRor[:NEXT]?`
/// (SCPI 1999 Vol. 2 §21.8): `<code>,"<description>"`, `0,"No error"` when the queue is empty.
public struct SCPIErrorEntry: Sendable, Hashable, CustomStringConvertible {
    public var code: Int
    public var message: String

    public init(code: Int, message: String) {
        self.code = code
        self.message = message
    }

    /// The queue is empty.
    public var isNoError: Bool { code == 0 }

    /// Standard error classes (SCPI 1999 Vol. 2 §21.8.9–§21.8.14; IEEE 488.2 §11.5.1 ESR bits).
    public enum Category: Sendable, Equatable {
        case none
        /// -100…-199: syntax or unknown header (ESR bit 5, CME).
        case command
        /// -200…-299: valid command that could not be executed, e.g. out of range (ESR bit 4, EXE).
        case execution
        /// -300…-399: device-specific failure (ESR bit 3, DDE).
        case deviceSpecific
        /// -400…-499: query protocol error such as -410 INTERRUPTED (ESR bit 2, QYE).
        case query
        /// -500 power on, -600 user request, -700 request control, -800 operation complete.
        case event
        /// Positive codes: defined by the instrument maker.
        case instrumentSpecific
    }

    public var category: Category {
        switch code {
        case 0: return .none
        case -199 ... -100: return .command
        case -299 ... -200: return .execution
        case -399 ... -300: return .deviceSpecific
        case -499 ... -400: return .query
        case -899 ... -500: return .event
        case 1...: return .instrumentSpecific
        default: return .deviceSpecific
        }
    }

    /// Parses `-113,"Undefined header"`, `+0,"No error"`, `0, No Error` and
    /// `-222,"Data out of range;SENS:CORR:WAV 5000"`. Returns nil when there is no leading code.
    public init?(response: String) {
        let text = response.trimmingSCPIWhitespace()
        let parts = text.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first else { return nil }
        var codeText = first.trimmingSCPIWhitespace()
        if codeText.hasPrefix("+") { codeText.removeFirst() }
        guard let code = Int(codeText) else { return nil }
        var message = parts.count > 1 ? parts[1].trimmingSCPIWhitespace() : ""
        if message.count >= 2, message.first == "\"", message.last == "\"" {
            message = String(message.dropFirst().dropLast()).replacingDoubledQuotes()
        }
        self.init(code: code, message: message)
    }

    public var description: String { "\(code),\"\(message)\"" }
}

extension StringProtocol {
    /// Trims spaces, tabs, CR and LF (the whitespace SCPI responses carry).
    func trimmingSCPIWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let start = firstIndex(where: { !isSpace($0) }) else { return "" }
        let end = lastIndex(where: { !isSpace($0) })!
        return String(self[start...end])
    }
}

extension String {
    /// IEEE 488.2 §7.7.5 string data doubles embedded quotes: `""` → `"`.
    func replacingDoubledQuotes() -> String {
        var result = ""
        var previousWasQuote = false
        for ch in self {
            if ch == "\"" && previousWasQuote { previousWasQuote = false; continue }
            previousWasQuote = ch == "\""
            result.append(ch)
        }
        return result
    }
}
