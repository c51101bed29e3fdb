import Foundation
import Yams

/// A YAML document as a Sendable tree that remembers where each value came from, so every error
/// in a bench or instrument file can name the file, the line and what was expected.
public indirect enum YAMLTree: Sendable, Equatable {
    case scalar(String, line: Int)
    case mapping([(key: String, keyLine: Int, value: YAMLTree)], line: Int)
    case sequence([YAMLTree], line: Int)

    public static func == (a: YAMLTree, b: YAMLTree) -> Bool {
        switch (a, b) {
        case let (.scalar(x, l1), .scalar(y, l2)): return x == y && l1 == l2
        case let (.sequence(x, l1), .sequence(y, l2)): return x == y && l1 == l2
        case let (.mapping(x, l1), .mapping(y, l2)):
            return l1 == l2 && x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    public var line: Int {
        switch self { case let .scalar(_, l), let .mapping(_, l), let .sequence(_, l): l }
    }

    /// The largest file qbench reads as YAML (bench and instrument files are a few kB).
    public static let maximumBytes = 256 * 1024
    /// The deepest nesting of mappings and lists accepted (bench files nest about 5 deep).
    public static let maximumDepth = 64
    /// The most values (scalars, mappings, lists) one document may hold.
    public static let maximumNodes = 100_000

    /// Reads a YAML file's bytes as UTF-8 text, refusing what is not (with the byte offset and
    /// line of the first bad byte) and what is too large to be a qbench file.
    public static func text(of data: Data, file: String) throws(BenchFileError) -> String {
        guard data.count <= maximumBytes else {
            throw BenchFileError(file: file, line: 0, message: "is \(data.count) bytes; qbench reads YAML files of at most \(maximumBytes / 1024) KiB: is this the right file?")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            let bytes = [UInt8](data)
            let offset = firstInvalidUTF8Offset(bytes)
            let line = bytes[0..<offset].reduce(1) { $1 == 0x0A ? $0 + 1 : $0 }
            throw BenchFileError(file: file, line: line, message: "is not UTF-8 text (byte \(offset), 0x\(String(bytes[min(offset, bytes.count - 1)], radix: 16)), is not valid UTF-8): save the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`")
        }
        return text
    }

    /// The offset of the first byte that does not decode as UTF-8.
    static func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case let .valid(encoded): offset += encoded.count
            case .error: return offset
            case .emptyInput: return offset
            }
        }
    }

    public static func parse(_ text: String, file: String) throws(BenchFileError) -> YAMLTree {
        guard text.utf8.count <= maximumBytes else {
            throw BenchFileError(file: file, line: 0, message: "is \(text.utf8.count) bytes; qbench reads YAML files of at most \(maximumBytes / 1024) KiB: is this the right file?")
        }
        // Refused before Yams composes anything: anchors and aliases (an alias is expanded into
        // a copy of its anchor's value, so a few kB can stand for billions of values) and
        // nesting deep enough to exhaust the stack of a recursive composer.
        try screen(text, file: file)
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            if case let .duplicatedKeysInMapping(keys, context)? = error as? YamlError {
                let line = keys.first.flatMap { secondOccurrence(of: $0, in: text) } ?? context.mark.line
                throw BenchFileError(file: file, line: line, message: "repeats the key '\(keys.joined(separator: "', '"))' (duplicated key)")
            }
            let line = (error as? YamlError).flatMap(Self.line(of:)) ?? 0
            throw BenchFileError(file: file, line: line, message: "is not valid YAML (\(error))")
        }
        guard let node else { throw BenchFileError(file: file, line: 1, message: "is empty") }
        var budget = maximumNodes
        return try convert(node, file: file, depth: 0, budget: &budget)
    }

    /// A lexical pass over the text, outside comments, quoted scalars and block scalars (`|`, `>`):
    /// refuses an anchor (`&name`) or alias (`*name`) where a YAML node starts, and bounds the
    /// nesting depth (block indentation levels, `- `/`? ` indicators on a line, open `[`/`{`).
    /// It errs on the side of refusing: a plain scalar starting with `&` or `*` must be quoted.
    static func screen(_ text: String, file: String) throws(BenchFileError) {
        var indents: [Int] = []
        var flowDepth = 0
        var inDouble = false, inSingle = false
        var blockScalarParent: Int?   // indentation of the line that opened a `|` or `>` scalar
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = Array(rawLine.utf8)
            let indent = line.prefix { $0 == 0x20 }.count
            let content = line.dropFirst(indent)
            let blank = content.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if let parent = blockScalarParent {
                if blank || indent > parent { continue }
                blockScalarParent = nil
            }
            if !blank && content.first != 0x23 && !inDouble && !inSingle && flowDepth == 0 {
                while let last = indents.last, last >= indent { indents.removeLast() }
                indents.append(indent)
            }
            var nodeStart = !inDouble && !inSingle
            var indicators = 0
            var previous: UInt8 = 0x20
            var escaped = false
            for b in content {
                defer { previous = b }
                if inDouble {
                    if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inDouble = false }
                    continue
                }
                if inSingle {
                    if b == 0x27 { inSingle = false }
                    continue
                }
                if b == 0x23 && (previous == 0x20 || previous == 0x09) { break }   // a comment
                if nodeStart {
                    switch b {
                    case 0x26, 0x2A:   // & or *
                        throw BenchFileError(file: file, line: lineNumber, message: "uses a YAML \(b == 0x26 ? "anchor (&)" : "alias (*)"); qbench files allow no anchors or aliases: write the value out in full (quote a text that starts with '\(b == 0x26 ? "&" : "*")')")
                    case 0x22: inDouble = true; nodeStart = false
                    case 0x27: inSingle = true; nodeStart = false
                    case 0x5B, 0x7B: flowDepth += 1
                    case 0x5D, 0x7D: flowDepth = max(0, flowDepth - 1); nodeStart = false
                    case 0x2D, 0x3F: indicators += 1   // "- " or "? "; "-5" counts too, which only errs high
                    case 0x20, 0x09, 0x2C, 0x3A, 0x21: break   // spaces, separators, a tag's '!'
                    default: nodeStart = false
                    }
                } else {
                    switch b {
                    case 0x5B where flowDepth > 0, 0x7B where flowDepth > 0: flowDepth += 1; nodeStart = true
                    case 0x5D where flowDepth > 0, 0x7D where flowDepth > 0: flowDepth -= 1
                    case 0x2C where flowDepth > 0: nodeStart = true
                    case 0x20 where previous == 0x3A, 0x09 where previous == 0x3A: nodeStart = true   // after "key: "
                    default: break
                    }
                }
                if indents.count + indicators + flowDepth > maximumDepth {
                    throw BenchFileError(file: file, line: lineNumber, message: "nests mappings and lists more than \(maximumDepth) deep; a qbench file nests a few levels: is this the right file?")
                }
            }
            // "key: |" or "- >-": the following more-indented lines are the scalar's text.
            if !inDouble && !inSingle && flowDepth == 0 {
                let tail = String(decoding: content, as: UTF8.self).split(separator: " #").first.map(String.init) ?? ""
                let trimmed = tail.trimmingCharacters(in: .whitespaces)
                if let last = trimmed.split(separator: " ").last, let first = last.first, first == "|" || first == ">",
                   last.dropFirst().allSatisfy({ "+-0123456789".contains($0) }), trimmed.count == last.count || trimmed.dropLast(last.count).hasSuffix(" ") {
                    blockScalarParent = indent
                }
            }
        }
    }

    /// The line of the second `key:` in the text (1-based), where a duplicated key is reported.
    static func secondOccurrence(of key: String, in text: String) -> Int? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let hits = lines.indices.filter { lines[$0].trimmingCharacters(in: .whitespaces).hasPrefix("\(key):") }
        return hits.count > 1 ? hits[1] + 1 : nil
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case let .scanner(_, _, mark, _), let .parser(_, _, mark, _), let .composer(_, _, mark, _): return mark.line
        default: return nil
        }
    }

    static func convert(_ node: Node, file: String, depth: Int, budget: inout Int) throws(BenchFileError) -> YAMLTree {
        let line = node.mark?.line ?? 0
        budget -= 1
        guard budget >= 0 else {
            throw BenchFileError(file: file, line: line, message: "holds more than \(maximumNodes) values; a qbench file holds a few hundred: is this the right file?")
        }
        guard depth <= maximumDepth else {
            throw BenchFileError(file: file, line: line, message: "nests mappings and lists more than \(maximumDepth) deep; a qbench file nests a few levels: is this the right file?")
        }
        switch node {
        case let .scalar(s): return .scalar(s.string, line: line)
        case let .sequence(seq): 
            var items: [YAMLTree] = []
            for n in seq { items.append(try convert(n, file: file, depth: depth + 1, budget: &budget)) }
            return .sequence(items, line: line)
        case let .mapping(map):
            var items: [(key: String, keyLine: Int, value: YAMLTree)] = []
            for (k, v) in map {
                guard case let .scalar(ks) = k else { throw BenchFileError(file: file, line: k.mark?.line ?? line, message: "has a non-text mapping key") }
                if items.contains(where: { $0.key == ks.string }) {
                    throw BenchFileError(file: file, line: k.mark?.line ?? line, message: "repeats the key '\(ks.string)'")
                }
                items.append((ks.string, k.mark?.line ?? line, try convert(v, file: file, depth: depth + 1, budget: &budget)))
            }
            return .mapping(items, line: line)
        case let .alias(a):
            throw BenchFileError(file: file, line: a.mark?.line ?? line, message: "uses a YAML alias; write the value out")
        }
    }
}

/// An error in a bench or instrument description file.
public struct BenchFileError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int
    public let message: String
    public init(file: String, line: Int, message: String) { self.file = file; self.line = line; self.message = message }
    public var description: String { "\(file):\(line): \(message)" }
}

/// Typed access to a YAML mapping with errors that say where and what was expected.
public struct YAMLReader: Sendable {
    public let file: String
    public let tree: YAMLTree
    public init(file: String, tree: YAMLTree) { self.file = file; self.tree = tree }

    public func fail(_ message: String, line: Int? = nil) -> BenchFileError {
        BenchFileError(file: file, line: line ?? tree.line, message: message)
    }

    public var entries: [(key: String, keyLine: Int, value: YAMLReader)] {
        get throws(BenchFileError) {
            guard case let .mapping(items, _) = tree else { throw fail("expected a mapping of 'key: value' lines") }
            return items.map { ($0.key, $0.keyLine, YAMLReader(file: file, tree: $0.value)) }
        }
    }

    public var items: [YAMLReader] {
        get throws(BenchFileError) {
            guard case let .sequence(items, _) = tree else { throw fail("expected a list of '- item' lines") }
            return items.map { YAMLReader(file: file, tree: $0) }
        }
    }

    public var string: String {
        get throws(BenchFileError) {
            guard case let .scalar(s, _) = tree else { throw fail("expected a single value, found a mapping or list") }
            return s
        }
    }

    public func optional(_ key: String) throws(BenchFileError) -> YAMLReader? {
        try entries.first { $0.key == key }?.value
    }

    public func required(_ key: String, _ what: String) throws(BenchFileError) -> YAMLReader {
        guard let v = try optional(key) else { throw fail("is missing '\(key)': \(what)") }
        return v
    }

    /// Refuses keys outside `allowed` (a misspelt key is an error, not silently ignored).
    public func onlyKeys(_ allowed: [String], in context: String) throws(BenchFileError) {
        for e in try entries where !allowed.contains(e.key) {
            throw fail("unknown key '\(e.key)' in \(context); expected one of: \(allowed.joined(separator: ", "))", line: e.keyLine)
        }
    }

    public func quantity<D>(_ type: Quantity<D>.Type) throws(BenchFileError) -> Quantity<D> {
        let s = try string
        do { return try Quantity<D>.parse(s) } catch { throw fail("bad unit: \(error)") }
    }

    public func double() throws(BenchFileError) -> Double {
        guard let v = Double(try string), v.isFinite else { throw fail("'\(try string)' is not a finite number: write e.g. '0.5' or '1e-3'") }
        return v
    }

    public func int() throws(BenchFileError) -> Int {
        guard let v = Int(try string) else { throw fail("'\(try string)' is not an integer") }
        return v
    }
}
