/// The `*IDN?` reply (IEEE 488.2 §10.14): four comma-separated fields,
/// `Manufacturer,Model,Serial,Firmware`, e.g. `Thorlabs,PM100USB,P2000001,1.7.0`.
public struct SCPIIdentity: Sendable, Hashable, CustomStringConvertible {
    public var manufacturer: String
    public var model: String
    /// "0" when the instrument does not report one (IEEE 488.2 allows that).
    public var serialNumber: String
    public var firmware: String

    public init(manufacturer: String, model: String, serialNumber: String, firmware: String) {
        self.manufacturer = manufacturer
        self.model = model
        self.serialNumber = serialNumber
        self.firmware = firmware
    }

    /// Parses an `*IDN?` reply. Extra commas are kept in the firmware field (some makers put
    /// several versions there). Returns nil when fewer than four fields are present.
    public init?(response: String) {
        let fields = response.trimmingSCPIWhitespace().split(separator: ",", maxSplits: 3, omittingEmptySubsequences: false)
        guard fields.count == 4 else { return nil }
        let f = fields.map { $0.trimmingSCPIWhitespace() }
        guard !f[0].isEmpty, !f[1].isEmpty else { return nil }
        self.init(manufacturer: f[0], model: f[1], serialNumber: f[2], firmware: f[3])
    }

    /// The reply as the instrument sends it (without terminator).
    public var description: String { "\(manufacturer),\(model),\(serialNumber),\(firmware)" }
}
