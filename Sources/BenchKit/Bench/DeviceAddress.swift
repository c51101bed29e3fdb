/// Where a role's device is: `sim://name`, `usbtmc://VID:PID?serial=S`, `gpio://chip/line`,
/// `tcpip://HOST[:PORT]` (SCPI over a raw TCP socket, port 5025 by default; the VISA forms
/// `TCPIP[n]::HOST::INSTR` and `TCPIP[n]::HOST::PORT::SOCKET` are accepted too and mean the same
/// socket: docs/hardware.md §2.4), `serial:///dev/ttyUSB0?baud=115200` (SCPI over a serial
/// port, 9600 Bd by default; VISA `ASRL/dev/ttyUSB0::INSTR`), `sim-fiber://HOST:PORT` (the twin's
/// fibre between the two sites of a split simulated bench: the server's site listens, the client's
/// connects; docs/two-sites.md).
public enum DeviceAddress: Sendable, Hashable, Codable, CustomStringConvertible {
    case simulated(name: String)
    case usbtmc(vendor: UInt16, product: UInt16, serial: String?)
    case gpio(chip: String, line: Int)
    case tcpip(host: String, port: Int)
    case serial(path: String, baud: Int)
    case simulatedFiber(host: String, port: Int)

    /// The SCPI raw-socket port of LXI instruments.
    public static let scpiSocketPort = 5025

    public var description: String {
        switch self {
        case let .simulated(n): return "sim://\(n)"
        case let .usbtmc(v, p, s):
            return String(format: "usbtmc://%04x:%04x", v, p) + (s.map { "?serial=\($0)" } ?? "")
        case let .gpio(c, l): return "gpio://\(c)/\(l)"
        case let .tcpip(h, p): return "tcpip://\(h.contains(":") ? "[\(h)]" : h):\(p)"
        case let .serial(path, baud): return "serial://\(path)?baud=\(baud)"
        case let .simulatedFiber(h, p): return "sim-fiber://\(h.contains(":") ? "[\(h)]" : h):\(p)"
        }
    }

    /// `HOST[:PORT]`, `[IPv6]:PORT`; the port 1…65535.
    static func hostAndPort(_ text: Substring, in original: String) throws(AddressError) -> (String, Int) {
        var host: Substring, portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw AddressError(text: original, reason: "an IPv6 host needs a closing ]") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw AddressError(text: original, reason: "expected :PORT after the IPv6 host") }
                portText = rest.dropFirst()
            }
        } else {
            let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
        }
        guard !host.isEmpty, !host.contains("/"), !host.contains(" ") else {
            throw AddressError(text: original, reason: "expected tcpip://HOST[:PORT], e.g. tcpip://192.168.1.20 or tcpip://awg-1.lab:5025")
        }
        var port = scpiSocketPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw AddressError(text: original, reason: "the port must be 1…65535") }
            port = p
        }
        return (String(host), port)
    }

    public init(parsing text: String) throws(AddressError) {
        if text.hasPrefix("sim-fiber://") {
            let rest = text.dropFirst(12)
            guard rest.contains(":") else { throw AddressError(text: text, reason: "expected sim-fiber://HOST:PORT, e.g. sim-fiber://127.0.0.1:7401") }
            let (host, port) = try Self.hostAndPort(rest, in: text)
            self = .simulatedFiber(host: host, port: port)
        } else if text.hasPrefix("sim://") {
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
        } else if text.hasPrefix("serial://") {
            let parts = text.dropFirst(9).split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0].hasPrefix("/"), parts[0].count > 1 else {
                throw AddressError(text: text, reason: "expected serial:///dev/ttyUSB0[?baud=9600] (an absolute device path)")
            }
            var baud = 9600
            if parts.count == 2 {
                guard parts[1].hasPrefix("baud="), let b = Int(parts[1].dropFirst(5)), b > 0 else {
                    throw AddressError(text: text, reason: "the only query is ?baud=<rate>, e.g. ?baud=115200")
                }
                baud = b
            }
            self = .serial(path: String(parts[0]), baud: baud)
        } else if text.uppercased().hasPrefix("ASRL/") && text.uppercased().hasSuffix("::INSTR") {
            self = .serial(path: String(text.dropFirst(4).dropLast(7)), baud: 9600)
        } else if text.hasPrefix("tcpip://") {
            let (host, port) = try Self.hostAndPort(text.dropFirst(8), in: text)
            self = .tcpip(host: host, port: port)
        } else if text.uppercased().hasPrefix("TCPIP") && text.contains("::") {
            // VISA: TCPIP[board]::HOST::INSTR (VXI-11 in VISA; qbench speaks the instrument's raw
            // SCPI socket on 5025 instead) or TCPIP[board]::HOST::PORT::SOCKET.
            let parts = text.split(separator: "::", omittingEmptySubsequences: false)
            let board = parts[0].dropFirst(5)
            guard board.allSatisfy(\.isNumber), parts.count >= 3, !parts[1].isEmpty else {
                throw AddressError(text: text, reason: "expected TCPIP::HOST::INSTR or TCPIP::HOST::PORT::SOCKET")
            }
            switch (parts.count, parts.last?.uppercased()) {
            case (3, "INSTR"):
                self = .tcpip(host: String(parts[1]), port: Self.scpiSocketPort)
            case (4, "SOCKET"):
                guard let p = Int(parts[2]), (1...65535).contains(p) else { throw AddressError(text: text, reason: "the port must be 1…65535") }
                self = .tcpip(host: String(parts[1]), port: p)
            default:
                throw AddressError(text: text, reason: "expected TCPIP::HOST::INSTR or TCPIP::HOST::PORT::SOCKET (HiSLIP and VXI-11 device names are not supported)")
            }
        } else {
            throw AddressError(text: text, reason: "the scheme must be sim://, usbtmc://, tcpip:// (or VISA TCPIP::…), serial:// (or VISA ASRL/dev/…::INSTR) or gpio://")
        }
    }
}

public struct AddressError: Error, CustomStringConvertible, Equatable {
    public let text: String
    public let reason: String
    public var description: String { "'\(text)' is not a device address: \(reason)" }
}
