import BenchIO
import BenchKit
import Foundation

/// An instrument model file, `Devices/instruments/<driver>.yaml`: how to recognise the
/// instrument on the bus, where its commands come from, and what the hardware allows. The
/// driver of the same name reads its hardware limits from here; every error names the file
/// and line.
public struct InstrumentDescription: Sendable {
    /// The driver name, which is also the file's name.
    public let model: String
    public let file: String
    public let manufacturer: String
    public let name: String
    /// The programming manual and sections the driver's commands come from.
    public let manual: String
    /// USB vendor:product pairs this model enumerates with (empty for GPIO drivers).
    public let usbIDs: [USBDeviceID]
    /// `*IDN?` model prefixes (upper case) that identify this model.
    public let idnModels: [String]
    /// Notes on the command dialect.
    public let dialect: String
    let limits: YAMLReader?
    /// The line of the `limits:` key.
    let limitsLine: Int

    public static let keys = ["model", "manufacturer", "name", "manual", "usb", "idn-models", "dialect", "limits"]

    public static func load(_ url: URL) throws(BenchFileError) -> InstrumentDescription {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else {
            throw BenchFileError(file: url.path, line: 0, message: "cannot be read: instrument files live in Devices/instruments/")
        }
        return try parse(text, file: url.path)
    }

    public static func parse(_ text: String, file: String) throws(BenchFileError) -> InstrumentDescription {
        let root = YAMLReader(file: file, tree: try YAMLTree.parse(text, file: file))
        try root.onlyKeys(keys, in: "an instrument file")
        let modelReader = try root.required("model", "the driver name, e.g. 'model: thorlabs-pm100usb'")
        let model = try modelReader.string
        let stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        guard model == stem else { throw modelReader.fail("model '\(model)' must match the file name '\(stem)'") }
        var ids: [USBDeviceID] = []
        for item in try root.optional("usb")?.items ?? [] {
            let text = try item.string
            let parts = text.split(separator: ":")
            guard parts.count == 2, let v = UInt16(parts[0], radix: 16), let p = UInt16(parts[1], radix: 16) else {
                throw item.fail("'\(text)' is not a USB id; write VID:PID in hexadecimal, e.g. \"1313:8072\"")
            }
            ids.append(USBDeviceID(vendorID: v, productID: p))
        }
        var models: [String] = []
        for item in try root.optional("idn-models")?.items ?? [] { models.append(try item.string.uppercased()) }
        return InstrumentDescription(
            model: model, file: file,
            manufacturer: try root.required("manufacturer", "the maker, e.g. 'manufacturer: Thorlabs'").string,
            name: try root.required("name", "the model name, e.g. 'name: PM100USB'").string,
            manual: try root.required("manual", "the programming manual and sections the commands come from").string,
            usbIDs: ids, idnModels: models,
            dialect: try root.optional("dialect")?.string ?? "",
            limits: try root.optional("limits"),
            limitsLine: try root.entries.first { $0.key == "limits" }?.keyLine ?? 1)
    }

    /// True when a USB device with this id, answering `*IDN?` with `identity` (if read), is this model.
    public func matches(_ id: USBDeviceID, identity: SCPIIdentity?) -> Bool {
        if let identity {
            let model = identity.model.uppercased()
            if idnModels.contains(where: { model.hasPrefix($0) }) { return true }
        }
        return usbIDs.contains(id)
    }

    // MARK: - Hardware limits

    private func entry(_ name: String) throws(BenchFileError) -> YAMLReader {
        guard let limits else {
            throw BenchFileError(file: file, line: 1, message: "has no 'limits:' section but the driver needs limits.\(name)")
        }
        guard let v = try limits.optional(name) else {
            throw BenchFileError(file: file, line: limitsLine, message: "limits is missing '\(name)': the hardware limit the \(model) driver needs")
        }
        return v
    }

    /// A range `{min: …, max: …}` of a dimensioned limit.
    public func range<D>(_ name: String, _ type: Quantity<D>.Type) throws(BenchFileError) -> InstrumentRange<D> {
        let r = try entry(name)
        try r.onlyKeys(["min", "max"], in: "limits.\(name)")
        let lo = try r.required("min", "the smallest allowed value").quantity(type)
        let hi = try r.required("max", "the largest allowed value").quantity(type)
        guard lo <= hi else { throw r.fail("limits.\(name): min \(lo) is above max \(hi)") }
        return InstrumentRange(min: lo, max: hi, source: "\(file):\(r.tree.line)")
    }

    /// A single dimensioned value.
    public func value<D>(_ name: String, _ type: Quantity<D>.Type) throws(BenchFileError) -> Quantity<D> {
        try entry(name).quantity(type)
    }

    /// A duration such as `3 ms`.
    public func duration(_ name: String) throws(BenchFileError) -> Duration {
        try entry(name).duration()
    }

    /// A positive integer (counts, points, channels).
    public func count(_ name: String) throws(BenchFileError) -> Int {
        try entry(name).int(in: 1...Int(Int32.max), "limits.\(name)")
    }

    /// An integer range `{min: 1, max: 10000}`.
    public func countRange(_ name: String) throws(BenchFileError) -> ClosedRange<Int> {
        let r = try entry(name)
        try r.onlyKeys(["min", "max"], in: "limits.\(name)")
        let lo = try r.required("min", "the smallest allowed value").int()
        let hi = try r.required("max", "the largest allowed value").int()
        guard lo <= hi else { throw r.fail("limits.\(name): min \(lo) is above max \(hi)") }
        return lo...hi
    }
}

/// A hardware range read from an instrument file, with where it was declared.
public struct InstrumentRange<D: PhysicalDimension>: Sendable, Equatable {
    public var min: Quantity<D>
    public var max: Quantity<D>
    public var source: String

    public func contains(_ q: Quantity<D>) -> Bool { q.si >= min.si - 1e-12 * abs(min.si) && q.si <= max.si + 1e-12 * abs(max.si) }
    /// The same range as BenchKit's `LimitRange` (SI), for `hardwareLimits(for:)`.
    public var limitRange: LimitRange { LimitRange(min: min.si, max: max.si, source: source) }
    public var text: String { "\(min) … \(max)" }
}
