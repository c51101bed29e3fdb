import BenchIO

/// Splits a program message into units and parses each (IEEE 488.2 §7.3–§7.7): `;` separates
/// units, whitespace separates the header from its parameters, `,` separates parameters;
/// strings in `"…"` or `'…'` and `#` blocks may contain any of those bytes.
public enum SCPIProgramParser {
    /// Parses a whole message (terminator optional). Returns the commands, or the error entry
    /// a real instrument would queue (-102 syntax error, -151 invalid string data,
    /// -161 invalid block data).
    public static func parse(_ message: [UInt8]) -> Result<[SCPICommand], SCPIParseError> {
        var bytes = message[...]
        // One terminator (NL, optionally after CR); a block may legitimately end in NL itself.
        if bytes.last == 0x0A { bytes = bytes.dropLast() }
        if bytes.last == 0x0D { bytes = bytes.dropLast() }
        var commands: [SCPICommand] = []
        var path: [String] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            // Header.
            while index < bytes.endIndex, bytes[index] == 0x20 || bytes[index] == 0x09 { index += 1 }
            var header: [UInt8] = []
            while index < bytes.endIndex, !isSpace(bytes[index]), bytes[index] != UInt8(ascii: ";") {
                header.append(bytes[index])
                index += 1
            }
            var arguments: [SCPIArgument] = []
            // Parameters.
            while index < bytes.endIndex, isSpace(bytes[index]) { index += 1 }
            if index < bytes.endIndex, bytes[index] != UInt8(ascii: ";") {
                switch parseArguments(bytes, &index) {
                case .success(let args): arguments = args
                case .failure(let error): return .failure(error)
                }
            }
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: ";") { index += 1 }
            if header.isEmpty {
                if arguments.isEmpty { continue }
                return .failure(SCPIParseError(code: -102, message: "Syntax error"))
            }
            guard let command = makeCommand(header, arguments: arguments, path: &path) else {
                return .failure(SCPIParseError(code: -102, message: "Syntax error"))
            }
            commands.append(command)
        }
        return .success(commands)
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }

    private static func makeCommand(_ header: [UInt8], arguments: [SCPIArgument], path: inout [String]) -> SCPICommand? {
        var text = String(decoding: header, as: UTF8.self).uppercased()
        let isQuery = text.hasSuffix("?")
        if isQuery { text.removeLast() }
        if text.hasPrefix("*") {
            guard text.count > 1, !text.contains(":") else { return nil }
            return SCPICommand(keywords: [text], isQuery: isQuery, arguments: arguments)
        }
        let absolute = text.hasPrefix(":")
        if absolute { text.removeFirst() }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) else {
            return nil
        }
        let keywords = absolute ? parts : path + parts
        path = Array(keywords.dropLast())
        return SCPICommand(keywords: keywords, isQuery: isQuery, arguments: arguments)
    }

    private static func parseArguments(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> Result<[SCPIArgument], SCPIParseError> {
        var arguments: [SCPIArgument] = []
        while index < bytes.endIndex {
            while index < bytes.endIndex, isSpace(bytes[index]) { index += 1 }
            guard index < bytes.endIndex else { break }
            let b = bytes[index]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                let quote = b
                index += 1
                var text: [UInt8] = []
                var closed = false
                while index < bytes.endIndex {
                    if bytes[index] == quote {
                        if index + 1 < bytes.endIndex, bytes[index + 1] == quote {
                            text.append(quote)
                            index += 2
                            continue
                        }
                        index += 1
                        closed = true
                        break
                    }
                    text.append(bytes[index])
                    index += 1
                }
                guard closed else { return .failure(SCPIParseError(code: -151, message: "Invalid string data")) }
                arguments.append(.string(String(decoding: text, as: UTF8.self)))
            } else if b == UInt8(ascii: "#") {
                var decoder = IEEEBlockDecoder()
                var end = index
                var complete = false
                do {
                    while end < bytes.endIndex, !complete {
                        complete = try decoder.feed(CollectionOfOne(bytes[end]))
                        end += 1
                    }
                    if !complete { try decoder.finish() }
                } catch {
                    return .failure(SCPIParseError(code: -161, message: "Invalid block data"))
                }
                index = end
                arguments.append(.block(decoder.payload))
            } else {
                var token: [UInt8] = []
                while index < bytes.endIndex, bytes[index] != UInt8(ascii: ","), bytes[index] != UInt8(ascii: ";") {
                    token.append(bytes[index])
                    index += 1
                }
                while let last = token.last, isSpace(last) { token.removeLast() }
                guard !token.isEmpty else { return .failure(SCPIParseError(code: -102, message: "Syntax error")) }
                arguments.append(.token(String(decoding: token, as: UTF8.self)))
            }
            while index < bytes.endIndex, isSpace(bytes[index]) { index += 1 }
            guard index < bytes.endIndex else { break }
            if bytes[index] == UInt8(ascii: ";") { break }
            guard bytes[index] == UInt8(ascii: ",") else { return .failure(SCPIParseError(code: -102, message: "Syntax error")) }
            index += 1
        }
        return .success(arguments)
    }
}

/// A program message a real instrument would reject while parsing, with the error it queues.
public struct SCPIParseError: Error, Sendable, Equatable {
    public var entry: SCPIErrorEntry
    public init(code: Int, message: String) { entry = SCPIErrorEntry(code: code, message: message) }
}
