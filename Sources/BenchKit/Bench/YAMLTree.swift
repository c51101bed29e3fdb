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

    public static func parse(_ text: String, file: String) throws(BenchFileError) -> YAMLTree {
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
        return try convert(node, file: file)
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

    static func convert(_ node: Node, file: String) throws(BenchFileError) -> YAMLTree {
        let line = node.mark?.line ?? 0
        switch node {
        case let .scalar(s): return .scalar(s.string, line: line)
        case let .sequence(seq): 
            var items: [YAMLTree] = []
            for n in seq { items.append(try convert(n, file: file)) }
            return .sequence(items, line: line)
        case let .mapping(map):
            var items: [(key: String, keyLine: Int, value: YAMLTree)] = []
            for (k, v) in map {
                guard case let .scalar(ks) = k else { throw BenchFileError(file: file, line: k.mark?.line ?? line, message: "has a non-text mapping key") }
                if items.contains(where: { $0.key == ks.string }) {
                    throw BenchFileError(file: file, line: k.mark?.line ?? line, message: "repeats the key '\(ks.string)'")
                }
                items.append((ks.string, k.mark?.line ?? line, try convert(v, file: file)))
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
        guard let v = Double(try string) else { throw fail("'\(try string)' is not a number") }
        return v
    }

    public func int() throws(BenchFileError) -> Int {
        guard let v = Int(try string) else { throw fail("'\(try string)' is not an integer") }
        return v
    }
}
