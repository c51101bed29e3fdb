import BenchIO
import BenchKit

/// Per-instrument transport quirk switches, from the binding option
/// `usbtmc-quirks: [lenient-bulk-in-header]` (docs/hardware.md §1.3). Every driver of a
/// message-based instrument accepts the option; it applies to the USBTMC instruments the binding
/// opens (LAN instruments have no such header).
public struct TransportQuirks: Sendable, Hashable {
    /// Accept DEV_DEP_MSG_IN headers with a wrong MsgID or bTagInverse (bTag and TransferSize
    /// are still checked), as Linux and pyvisa-py's `from_quirky` do.
    public var lenientBulkInHeader = false

    public static let optionKey = "usbtmc-quirks"
    public static let names = ["lenient-bulk-in-header"]

    public init(lenientBulkInHeader: Bool = false) { self.lenientBulkInHeader = lenientBulkInHeader }

    /// The binding's quirks (none when the option is absent).
    public init(binding: RoleBinding) throws(BenchFileError) {
        self.init()
        guard let options = binding.options, let list = try options.optional(Self.optionKey) else { return }
        for item in try list.items {
            switch try item.string {
            case "lenient-bulk-in-header": lenientBulkInHeader = true
            case let other: throw item.fail("unknown USBTMC quirk '\(other)'; known: \(Self.names.joined(separator: ", ")) (docs/hardware.md §1.3)")
            }
        }
    }

    /// The USBTMC configuration with these quirks applied.
    public func applied(to configuration: USBTMCInstrument.Configuration) -> USBTMCInstrument.Configuration {
        var c = configuration
        c.bulkInHeaderCheck = lenientBulkInHeader ? .lenient : .strict
        return c
    }
}
