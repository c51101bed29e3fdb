import Foundation

/// Where qbench finds what ships in the repository (MNIST in Data/, the trained model in Models/,
/// bench files in Devices/): `$QBENCH_ROOT`, else the first ancestor of the working directory or
/// of the executable that holds `Data/mnist`.
enum ProjectPaths {
    static let root: URL? = {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["QBENCH_ROOT"] { return URL(fileURLWithPath: env) }
        let starts = [URL(fileURLWithPath: fm.currentDirectoryPath),
                      URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()]
        for start in starts {
            var dir = start.standardizedFileURL
            while true {
                if fm.fileExists(atPath: dir.appendingPathComponent("Data/mnist").path) { return dir }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
        }
        return nil
    }()

    static func inRepository(_ relative: String) throws -> URL {
        guard let root else {
            throw CLIError("cannot find the qbench repository (no Data/mnist above \(FileManager.default.currentDirectoryPath)): run qbench from the repository or set QBENCH_ROOT")
        }
        return root.appendingPathComponent(relative)
    }

    static var mnist: URL { get throws { try inRepository("Data/mnist") } }
    static var defaultModel: URL { get throws { try inRepository("Models/mnist-784-784-10.qbm") } }
}

/// An error for the user: what went wrong and what to do about it.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
