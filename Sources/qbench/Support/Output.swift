import Foundation

/// Prints one JSON object on stdout (the `--json` contract: keys exactly as documented).
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes, .sortedKeys]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let data = try encoder.encode(value)
    FileHandle.standardOutput.write(data)
    FileHandle.standardOutput.write(Data("\n".utf8))
}

/// Unbuffered: progress lines reach a log file as they happen.
func printLine(_ s: String) { FileHandle.standardOutput.write(Data((s + "\n").utf8)) }

func format(_ v: Double, _ digits: Int = 4) -> String { String(format: "%.\(digits)g", v) }
func percent(_ v: Double) -> String { String(format: "%.2f %%", 100 * v) }

/// A progress bar on stderr, only when stderr is a terminal.
final class ProgressBar {
    let total: Int
    let unit: String
    let started = Date()
    let enabled: Bool
    private var lastDraw = Date.distantPast

    init(total: Int, unit: String, enabled: Bool = true) {
        self.total = total; self.unit = unit
        self.enabled = enabled && isatty(STDERR_FILENO) == 1
    }

    func update(_ done: Int, extra: String = "") {
        guard enabled else { return }
        let now = Date()
        guard done >= total || now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        let fraction = Double(done) / Double(max(1, total))
        let width = 30
        let filled = Int(fraction * Double(width))
        let elapsed = now.timeIntervalSince(started)
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "\r%@ %d/%d %@  %.0f %@/s  ETA %.0f s %@", bar, done, total, unit, rate, unit, eta, extra)
        FileHandle.standardError.write(Data(line.utf8))
        if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
