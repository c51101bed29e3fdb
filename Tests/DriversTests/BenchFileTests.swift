import BenchIO
import BenchKit
@testable import Drivers
import Foundation
import Testing

/// Devices/benches/fiber-testbed.yaml and the drivers' option checks: every mistake is refused
/// when the bench file is checked, with the file and line, before anything is opened.
@Suite("Bench files bound to the real drivers")
struct BenchFileTests {
    static let path = repositoryRoot.appendingPathComponent("Devices/benches/fiber-testbed.yaml")
    static let text = try! String(contentsOf: path, encoding: .utf8)

    var registry: DriverRegistry {
        get throws {
            var r = try DriverCatalog.registry(library: library, connector: SystemConnector())
            r.register(FakeSimDriver())
            return r
        }
    }

    @Test("fiber-testbed.yaml passes every role's checks, and is refused whole: real instruments and the twin never share a bench")
    func fiberTestbedIsRefusedAsAMix() throws {
        let bench = try BenchDescription.load(Self.path)
        #expect(bench.name == "fiber-testbed" && bench.roles.count == Role.allCases.count)
        let real = bench.roles.filter { bench.bindings[$0]!.driver != "sim" }.map(\.rawValue)
        #expect(real == ["server.laser", "server.modulator", "server.voa", "server.tap", "server.switch", "server.receiver", "trigger", "shutter", "interlock"])
        #expect(bench.safeState.first?.description == "server.laser: ramp-down")
        // Every role's own checks pass (the edits below are refused for their own reasons first);
        // the mix is refused after them, at the first simulated role, naming both sides.
        do {
            try registry.validate(bench)
            Issue.record("a bench of real instruments and the twin was accepted")
        } catch let error as BenchFileError {
            let firstSimulated = try #require(bench.roles.first { bench.bindings[$0]!.driver == "sim" })
            #expect(error.line == bench.bindings[firstSimulated]!.line, "\(error)")
            #expect(error.message.contains(firstSimulated.rawValue) && error.message.contains("server.laser") && error.message.contains("twin"), "\(error)")
        }
    }

    @Test("the catalog names every driver, and each serves its family")
    func catalog() throws {
        let drivers = try DriverCatalog.all(library: library, connector: SystemConnector())
        #expect(drivers.map(\.name) == ["thorlabs-pm100usb", "thorlabs-cld1015", "thorlabs-cld1015-soa", "keysight-33500b", "keysight-33500b-coupler",
                                        "keysight-infiniivision", "gpio-trigger", "gpio-shutter", "gpio-interlock", "gpio-optical-switch", "dac-voa"])
        #expect(drivers.map(\.families) == [[.powerMeter], [.laser], [.amplifier], [.modulator], [.splitter], [.homodyneReceiver],
                                            [.trigger], [.shutter], [.interlock], [.opticalSwitch], [.attenuator]])
        let cld = drivers[1].hardwareLimits(for: .laser)
        #expect(cld["current"]?.max == 1.5 && abs((cld["temperature"]?.min ?? 0) - 278.15) < 1e-9)
        #expect(cld["current"]?.source.hasSuffix("thorlabs-cld1015.yaml:16") == true)
        #expect(drivers[3].hardwareLimits(for: .modulator)["drive"]?.max == 10)
    }

    /// Each edit of fiber-testbed.yaml is refused with this line and message.
    @Test(arguments: [
        ("      current: {min: 0 mA, max: 100 mA}", "      current: {min: 0 mA, max: 2 A}", 17, "lies outside what thorlabs-cld1015 hardware allows"),
        ("      wavelength: 1550 nm\n      tec-window", "      wavelenght: 1550 nm\n      tec-window", 20, "unknown key 'wavelenght'"),
        ("      tec-window: 0.1 K", "      tec-window: -1 K", 21, "tec-window must be positive"),
        ("    address: usbtmc://1313:804f?serial=M00443953", "    address: gpio://gpiochip0/3", 13, "talks to a USBTMC or LAN instrument"),
        ("      i: {channel: 1, load: 50 Ω}", "      i: {channel: 3, load: 50 Ω}", 30, "channel must be 1…2"),
        ("      q: {channel: 2, load: 50 Ω}", "      q: {channel: 1, load: 50 Ω}", 31, "q uses the same AWG channel as i"),
        ("      i: {channel: 1, load: 50 Ω}", "      i: {channel: 1, load: 75 Ω}", 30, "load must be"),
        ("      drive: {min: -2 V, max: 2 V}", "      drive: {min: -8 V, max: 8 V}", 27, "lies outside what channel 1 (i, line 30) can output into 50 Ω"),
        ("      phase: {awg: \"usbtmc://0957:2807?serial=MY52600002\", channel: 1, load: high-z}",
         "      phase: {awg: \"gpio://gpiochip0/1\", channel: 1, load: high-z}", 32, "expected a usbtmc:// or tcpip:// (or serial://) address"),
        ("      channel: 1\n      symbol-rate", "      channel: 5\n      symbol-rate", 67, "channel must be 1…4"),
        ("      symbol-rate: 10 MBd", "      symbol-rate: 10 MV", 68, "bad unit"),
        ("      symbol-rate: 10 MBd", "      symbol-rate: 200 MBd", 68, "beyond what the lo-phase AWG can play"),
        ("      slots-per-shot: 313600", "      slots-per-shot: 4", 70, "slots-per-shot must be 8…"),
        ("tap-fraction: 0.01, averaging", "tap-fraktion: 0.01, averaging", 71, "unknown key 'tap-fraktion'"),
        ("      lo-phase: {awg: \"usbtmc://0957:2807?serial=MY52600002\", channel: 2, v-pi: 3.5 V}",
         "      lo-phase: {awg: \"usbtmc://0957:2807?serial=MY52600002\", channel: 2, v-pi: 7 V}", 72, "±π would not fit"),
        ("      vacuum-gate: {awg: \"usbtmc://0957:2807?serial=MY52600003\", channel: 1",
         "      vacuum-gate: {awg: \"usbtmc://0957:2807?serial=MY52600002\", channel: 2", 73, "vacuum-gate uses the same AWG channel as lo-phase"),
        ("blocked-level: high}", "blocked-level: sideways}", 74, "not a level"),
        ("      period: 40 ms", "      period: 5 µs", 100, "must be longer than the pulse width"),
        ("      pulse-width: 10 µs", "      pulse-width: 10 parsecs", 99, "is not a duration"),
        ("      open-level: high", "      open-level: ajar", 105, "not a level"),
        ("    driver: gpio-interlock\n    address: gpio://gpiochip0/22", "    driver: gpio-interlock\n    address: usbtmc://1313:8072", 106, "drives a GPIO line"),
        ("        - [3 V, 14.5 dB]", "        - [3 V, 3 dB]", 47, "breaks the monotone order"),
        ("      back-to-back-level: low", "      back-to-back-level: maybe", 60, "not a level"),
        // Two roles never drive one output: the VOA on the vacuum gate's channel, the switch on the input blocker's line.
        ("      channel: 2\n      load: high-z\n      table:", "      channel: 1\n      load: high-z\n      table:", 73,
         "server.receiver's vacuum-gate is usbtmc://0957:2807?serial=MY52600003 channel 1, which server.voa's control voltage (line 41) already drives"),
        ("    address: gpio://gpiochip0/5", "    address: gpio://gpiochip0/6", 74, "server.receiver's input-block is GPIO line gpiochip0/6, which server.switch's switch control line"),
    ] as [(String, String, Int, String)])
    func mistakesNameTheLine(find: String, replace: String, line: Int, message: String) throws {
        let text = Self.text.replacingOccurrences(of: find, with: replace)
        #expect(text != Self.text, "the edit did not apply")
        do {
            let bench = try BenchDescription.parse(text, file: "fiber-testbed.yaml")
            try registry.validate(bench)
            Issue.record("accepted: \(replace)")
        } catch let error as BenchFileError {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
            #expect(error.file.hasSuffix("fiber-testbed.yaml") || error.file == "bench file", "\(error)")
        }
    }

    @Test("drivers that need options say so at the role's line", arguments: [
        ("thorlabs-cld1015", "usbtmc://1313:804f", "needs 'options: {wavelength: 1550 nm}'"),
        ("keysight-33500b", "usbtmc://0957:2807", "needs 'options:' mapping the modulator inputs"),
        ("keysight-infiniivision", "usbtmc://0957:17a8", "needs options: channel, symbol-rate"),
    ])
    func missingOptions(driver: String, address: String, message: String) throws {
        let role = driver == "thorlabs-cld1015" ? "server.laser" : driver == "keysight-33500b" ? "server.modulator" : "server.receiver"
        let text = "bench: t\nroles:\n  \(role):\n    driver: \(driver)\n    address: \(address)\n"
        let bench = try BenchDescription.parse(text, file: "t.yaml")
        #expect { try registry.validate(bench) } throws: { error in
            guard let e = error as? BenchFileError else { return false }
            return e.line == 3 && e.message.contains(message)
        }
    }
}

/// The two site files of the fibre test bed (docs/two-sites.md): each binds only its station's
/// roles, and a role whose instrument has no driver makes the whole file refused, every such role
/// named — never one simulated instrument beside real ones. The server's site has a driver for
/// every role; the client's lacks one for its interferometer U_x (docs/real-bench.md).
@Suite("Site bench files of the fibre test bed")
struct SiteBenchFileTests {
    struct Site: Sendable, CustomStringConvertible {
        let file: String, station: Station, missing: [String]
        var description: String { file }
    }

    static let sites = [
        Site(file: "fiber-testbed-server.yaml", station: .server, missing: []),
        Site(file: "fiber-testbed-client.yaml", station: .client, missing: ["client.processor"]),
    ]

    @Test(arguments: sites)
    func siteFileBindsItsStationOnlyAndIsRefusedWholeWithoutDrivers(_ site: Site) throws {
        let bench = try BenchDescription.load(repositoryRoot.appendingPathComponent("Devices/benches/\(site.file)"))
        #expect(bench.roles.allSatisfy { $0.station == site.station }, "\(bench.roles)")
        #expect(!bench.bindings.values.contains { $0.driver == "sim" }, "a site file binds a simulated instrument")
        var registry = try DriverCatalog.registry(library: library, connector: SystemConnector())
        registry.register(FakeSimDriver())
        if site.missing.isEmpty {
            try registry.validate(bench)
            return
        }
        do {
            try registry.validate(bench)
            #expect(site.missing.isEmpty, "\(site.file) was accepted with instruments that have no driver")
        } catch {
            #expect(!site.missing.isEmpty, "\(site.file) was refused: \(error)")
            for role in site.missing { #expect(error.message.contains(role), "\(error.message)") }
            #expect(error.message.contains(site.missing.count == 1 ? "unknown driver" : "refused whole"), "\(error.message)")
        }
    }

    static let client = repositoryRoot.appendingPathComponent("Devices/benches/fiber-testbed-client.yaml")

    /// The client's site file without its interferometer (no driver yet), every line where it was:
    /// the role's lines and its safe-state step become comments.
    static func withoutProcessor(_ text: String) -> String {
        var inside = false
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            if line.hasPrefix("  client.processor:") { inside = true } else if line.hasPrefix("  ") && !line.hasPrefix("   ") { inside = false }
            return inside || line == "  - client.processor: safe" ? "#" : String(line)
        }.joined(separator: "\n")
    }

    /// Each edit of fiber-testbed-client.yaml is refused with this line and message.
    @Test(arguments: [
        ("      current-limit: 400 mA ", "      current-limit: 2 A ", 37, "above what the CLD1015 can drive"),
        ("        - {current: 200 mA, gain: 8}", "        - {current: 500 mA, gain: 8}", 44, "outside 0 … current-limit 400 mA"),
        ("        - {current: 80 mA, gain: 2.5}", "        - {current: 80 mA, gain: 1.5}", 41, "breaks the monotone order"),
        ("        - {current: 80 mA, gain: 2.5}", "        - {current: 50 mA, gain: 2.5}", 41, "does not lie above point 2"),
        ("      gain: {min: 1, max: 6}", "      gain: {min: 1, max: 9}", 35, "the gain limit 9.0 lies outside the gain table's 1.0 … 8.0"),
        ("        - {voltage: 0 V, kept-fraction: 0}\n", "", 55, "must contain 0 V"),
        ("        - {voltage: 5 V, kept-fraction: 0.97}", "        - {voltage: 5 V, kept-fraction: 1.2}", 60, "outside 0 … 1"),
        ("        - {voltage: 5 V, kept-fraction: 0.97}", "        - {voltage: 12 V, kept-fraction: 0.97}", 60, "outside channel 1's output window -10 V … 10 V into high-Z"),
        ("      kept-fraction: {min: 0, max: 0.95}", "      kept-fraction: {min: 0, max: 0.99}", 50, "lies outside the table's 0.0 … 0.97"),
        ("      channel: 1\n      load: high-z", "      chanel: 1\n      load: high-z", 52, "unknown key 'chanel'"),
    ] as [(String, String, Int, String)])
    func clientMistakesNameTheLine(find: String, replace: String, line: Int, message: String) throws {
        let original = Self.withoutProcessor(try String(contentsOf: Self.client, encoding: .utf8))
        let text = original.replacingOccurrences(of: find, with: replace)
        #expect(text != original, "the edit did not apply")
        var registry = try DriverCatalog.registry(library: library, connector: SystemConnector())
        registry.register(FakeSimDriver())
        do throws(BenchFileError) {
            let bench = try BenchDescription.parse(text, file: "fiber-testbed-client.yaml")
            try registry.validate(bench)
            Issue.record("accepted: \(replace)")
        } catch {
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains(message), "\(error)")
        }
    }
}
