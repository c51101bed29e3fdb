import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import Testing

/// Devices/instruments/*.yaml: every file loads, and every mistake names the file and the line.
@Suite("Instrument files")
struct InstrumentFileTests {
    @Test("every instrument file loads with ids, manual and the limits its driver needs")
    func allLoad() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: library.directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == DriverCatalog.instrumentModels.map { "\($0).yaml" }.sorted())
        for d in try DriverCatalog.descriptions(library: library) {
            #expect(!d.usbIDs.isEmpty && !d.manual.isEmpty && !d.idnModels.isEmpty && !d.dialect.isEmpty, "\(d.model)")
        }
        _ = try DriverCatalog.all(library: library, connector: SystemConnector())
        let awg = try Keysight33500BLimits(description("keysight-33500b"))
        #expect(awg.window(.fiftyOhm).max == .volts(5) && awg.window(.highZ).max == .volts(10) && awg.sampleRate.max == .hertz(160e6))
        #expect(awg.arbPoints == 8...1_000_000 && awg.dacFullScale == 32767)   // K4: the 33500 help's 1,000,000-point limit
        let cld = try ThorlabsCLD1015.Limits(description("thorlabs-cld1015"))
        #expect(cld.current.max == .amperes(1.5) && abs(cld.tecSetpoint.min.celsius - 5) < 1e-9 && abs(cld.tecSetpoint.max.celsius - 45) < 1e-9)
    }

    @Test("matching: by *IDN? model prefix first, else by VID:PID")
    func matching() throws {
        let scope = try description("keysight-infiniivision")
        let other = USBDeviceID(vendorID: 0x2A8D, productID: 0x1770)
        #expect(scope.matches(other, identity: SCPIIdentity(manufacturer: "KEYSIGHT TECHNOLOGIES", model: "DSOX3024T", serialNumber: "1", firmware: "1")))
        #expect(scope.matches(USBDeviceID(vendorID: 0x0957, productID: 0x17A8), identity: nil))
        #expect(!scope.matches(other, identity: SCPIIdentity(manufacturer: "Thorlabs", model: "PM100USB", serialNumber: "1", firmware: "1")))
    }

    static let cld = try! String(contentsOf: library.directory.appendingPathComponent("thorlabs-cld1015.yaml"), encoding: .utf8)

    @Test("mistakes name the file and the line", arguments: [
        ("model: thorlabs-cld1015", "model: thorlabs-cld1016", 3, "must match the file name"),
        ("\"1313:804F\"", "\"1313:80ZZ\"", 8, "is not a USB id"),
        ("max: 1.5 A}", "max: 1.5 V}", 16, "bad unit"),
        ("{min: 5 °C, max: 45 °C}", "{min: 50 °C, max: 45 °C}", 17, "is above max"),
        ("  tec-setpoint: {min: 5 °C, max: 45 °C}    # TEC setpoint range\n", "", 15, "is missing 'tec-setpoint'"),
        ("name: CLD1015", "nmae: CLD1015", 5, "unknown key 'nmae'"),
        ("  current: {min: 0 A, max: 1.5 A}", "  current: {min: 0 A, maximum: 1.5 A}", 16, "unknown key 'maximum'"),
    ] as [(String, String, Int, String)])
    func mistakes(find: String, replace: String, line: Int, message: String) throws {
        let text = Self.cld.replacingOccurrences(of: find, with: replace)
        #expect(text != Self.cld)
        let file = "/lab/Devices/instruments/thorlabs-cld1015.yaml"
        #expect {
            _ = try ThorlabsCLD1015.Limits(try InstrumentDescription.parse(text, file: file))
        } throws: { error in
            guard let e = error as? BenchFileError else { return false }
            return e.file == file && e.line == line && e.message.contains(message)
        }
    }

    @Test("a missing or broken file stops the catalog with its path")
    func catalogReportsBrokenFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("qbench-instruments-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for m in DriverCatalog.instrumentModels where m != "keysight-33500b" {
            try FileManager.default.copyItem(at: library.directory.appendingPathComponent("\(m).yaml"), to: dir.appendingPathComponent("\(m).yaml"))
        }
        #expect { _ = try DriverCatalog.all(library: InstrumentLibrary(directory: dir)) } throws: { error in
            (error as? BenchFileError)?.file.hasSuffix("keysight-33500b.yaml") == true
        }
        try "model: keysight-33500b\nmanufacturer: Keysight\nname: 33500B\nmanual: x\nlimits:\n  channels: two\n"
            .write(to: dir.appendingPathComponent("keysight-33500b.yaml"), atomically: true, encoding: .utf8)
        #expect { _ = try DriverCatalog.all(library: InstrumentLibrary(directory: dir)) } throws: { error in
            guard let e = error as? BenchFileError else { return false }
            return e.file.hasSuffix("keysight-33500b.yaml") && e.line == 6 && e.message.contains("not an integer")
        }
    }

    @Test("the library is found above a working directory inside the repository")
    func locate() {
        #expect(InstrumentLibrary.locate(above: repositoryRoot.appendingPathComponent("Sources/Drivers"))?.standardizedFileURL.path
                == library.directory.standardizedFileURL.path)
    }
}
