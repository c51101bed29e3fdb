import BenchKit

/// Every real-instrument driver of this repository, bound to a connector and to the instrument
/// files they read their hardware limits from. The CLI builds its `DriverRegistry` from this
/// (plus the simulated backend's `sim` driver).
public enum DriverCatalog {
    /// The instrument models with a file in `Devices/instruments` (USB instruments).
    public static let instrumentModels = ["thorlabs-pm100usb", "thorlabs-cld1015", "keysight-33500b", "keysight-infiniivision"]

    /// One factory per driver name. Throws when an instrument file is missing or malformed
    /// (the error names the file and line).
    public static func all(library: InstrumentLibrary, connector: any InstrumentConnector = SystemConnector()) throws(BenchFileError) -> [any DriverFactory] {
        let pm = try library.description("thorlabs-pm100usb")
        let cld = try library.description("thorlabs-cld1015")
        let awg = try library.description("keysight-33500b")
        let scope = try library.description("keysight-infiniivision")
        return [
            try ThorlabsPM100USBDriver(description: pm, connector: connector),
            try ThorlabsCLD1015Driver(description: cld, connector: connector),
            try ThorlabsCLD1015SOADriver(description: cld, connector: connector),
            try Keysight33500BDriver(description: awg, connector: connector),
            try Keysight33500BCouplerDriver(description: awg, connector: connector),
            try KeysightInfiniiVisionDriver(description: scope, awg: awg, meter: pm, connector: connector),
            GPIOTriggerDriver(connector: connector),
            GPIOShutterDriver(connector: connector),
            GPIOInterlockDriver(connector: connector),
            GPIOOpticalSwitchDriver(connector: connector),
            try DACVariableAttenuatorDriver(awg: awg, connector: connector),
        ]
    }

    /// A registry of every driver here; add the `sim` driver to it for mixed benches.
    public static func registry(library: InstrumentLibrary, connector: any InstrumentConnector = SystemConnector()) throws(BenchFileError) -> DriverRegistry {
        DriverRegistry(try all(library: library, connector: connector))
    }

    /// The instrument files, loaded (for `qbench scan`'s matching).
    public static func descriptions(library: InstrumentLibrary) throws(BenchFileError) -> [InstrumentDescription] {
        var out: [InstrumentDescription] = []
        for m in instrumentModels { out.append(try library.description(m)) }
        return out
    }
}
