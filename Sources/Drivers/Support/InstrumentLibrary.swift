import BenchKit
import Foundation

/// The `Devices/instruments` folder of the repository: one YAML file per instrument model.
public struct InstrumentLibrary: Sendable {
    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// The description of one model, `<directory>/<model>.yaml`.
    public func description(_ model: String) throws(BenchFileError) -> InstrumentDescription {
        try InstrumentDescription.load(directory.appendingPathComponent("\(model).yaml"))
    }

    /// `$QBENCH_ROOT/Devices/instruments`, else the first `Devices/instruments` above the working
    /// directory or the executable (the way the CLI finds the repository).
    public static func standard() throws(BenchFileError) -> InstrumentLibrary {
        let fm = FileManager.default
        var starts: [URL] = []
        if let root = ProcessInfo.processInfo.environment["QBENCH_ROOT"] { starts.append(URL(fileURLWithPath: root)) }
        starts.append(URL(fileURLWithPath: fm.currentDirectoryPath))
        starts.append(URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent())
        for start in starts {
            if let found = locate(above: start) { return InstrumentLibrary(directory: found) }
        }
        throw BenchFileError(file: "Devices/instruments", line: 0,
                             message: "not found above \(fm.currentDirectoryPath): run qbench from the repository or set QBENCH_ROOT")
    }

    /// The first `Devices/instruments` directory in `start` or one of its ancestors.
    public static func locate(above start: URL) -> URL? {
        var dir = start.standardizedFileURL
        var isDirectory: ObjCBool = false
        while true {
            let candidate = dir.appendingPathComponent("Devices/instruments")
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), isDirectory.boolValue { return candidate }
            let parent = dir.deletingLastPathComponent()
            if parent.path == dir.path { return nil }
            dir = parent
        }
    }
}
