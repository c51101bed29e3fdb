/// Where a role's device is: `sim://name`, `usbtmc://VID:PID?serial=S`, `gpio://chip/line`.
public enum DeviceAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    case simulated(name: String)
    case usbtmc(vendor: UInt16, product: UInt16, serial: String?)
    case gpio(chip: String, line: Int)

    public var description: String {
        switch self {
        case let .simulated(n): return "sim://\(n)"
        case let .usbtmc(v, p, s):
            return String(format: "usbtmc://%04x:%04x", v, p) + (s.map { "?serial=\($0)" } ?? "")
        case let .gpio(c, l): return "gpio://\(c)/\(l)"
        }
    }

    public init(parsing text: String) throws(AddressError) {
        if text.hasPrefix("sim://") {
            let name = String(text.dropFirst(6))
            guard !name.isEmpty else { throw AddressError(text: text, reason: "sim:// needs a name, e.g. sim://server-laser") }
            self = .simulated(name: name)
        } else if text.hasPrefix("usbtmc://") {
            let rest = text.dropFirst(9)
            let parts = rest.split(separator: "?", maxSplits: 1)
            let ids = parts[0].split(separator: ":")
            guard ids.count == 2, let v = UInt16(ids[0], radix: 16), let p = UInt16(ids[1], radix: 16) else {
                throw AddressError(text: text, reason: "expected usbtmc://VID:PID with hexadecimal ids, e.g. usbtmc://1313:8072?serial=P2000001")
            }
            var serial: String?
            if parts.count == 2 {
                guard parts[1].hasPrefix("serial="), parts[1].count > 7 else {
                    throw AddressError(text: text, reason: "the only query is ?serial=<serial number>")
                }
                serial = String(parts[1].dropFirst(7))
            }
            self = .usbtmc(vendor: v, product: p, serial: serial)
        } else if text.hasPrefix("gpio://") {
            let parts = text.dropFirst(7).split(separator: "/")
            guard parts.count == 2, let line = Int(parts[1]), line >= 0 else {
                throw AddressError(text: text, reason: "expected gpio://<chip name or label>/<line offset>, e.g. gpio://gpiochip0/17")
            }
            self = .gpio(chip: String(parts[0]), line: line)
        } else {
            throw AddressError(text: text, reason: "the scheme must be sim://, usbtmc:// or gpio://")
        }
    }
}

public struct AddressError: Error, CustomStringConvertible, Equatable {
    public let text: String
    public let reason: String
    public var description: String { "'\(text)' is not a device address: \(reason)" }
}
