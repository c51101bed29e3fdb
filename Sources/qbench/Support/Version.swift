import Foundation

enum QBenchVersion {
    static let release = "0.1.0"
    static var string: String { release }

    /// The release plus the git commit of the checkout qbench runs from, when there is one:
    /// recorded in model files and run records as the code version.
    static var withCommit: String {
        guard let root = ProjectPaths.root else { return release }
        let head = root.appendingPathComponent(".git/HEAD")
        guard let ref = try? String(contentsOf: head, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) else { return release }
        if ref.hasPrefix("ref: ") {
            let refPath = root.appendingPathComponent(".git").appendingPathComponent(String(ref.dropFirst(5)))
            if let sha = try? String(contentsOf: refPath, encoding: .utf8) { return "\(release)+\(sha.prefix(12))" }
            if let packed = try? String(contentsOf: root.appendingPathComponent(".git/packed-refs"), encoding: .utf8),
               let line = packed.split(separator: "\n").first(where: { $0.hasSuffix(" " + ref.dropFirst(5)) }) {
                return "\(release)+\(line.prefix(12))"
            }
            return release
        }
        return "\(release)+\(ref.prefix(12))"
    }
}
