/// Encoders for Bulk-OUT transfers (USBTMC 1.0 §3.2.1; header layout Table 1, attributes
/// Table 3 and Table 4; USB488 1.0 §3.2.1.1 TRIGGER). All fields are little-endian; every
/// transfer is padded with zero bytes to a multiple of 4 (USBTMC 1.0 §3.2, "alignment bytes").
public enum USBTMCBulkOut {
    /// The header is 12 bytes long.
    public static let headerLength = 12

    /// DEV_DEP_MSG_OUT (Table 3): header + payload + 0–3 alignment bytes. `endOfMessage` sets
    /// bmTransferAttributes.D0 (EOM) and must be true only on the last transfer of a message.
    public static func devDepMsgOut<C: Collection>(tag: UInt8, payload: C, endOfMessage: Bool) -> [UInt8]
    where C.Element == UInt8 {
        var bytes = header(.devDepMsgOut, tag: tag, transferSize: UInt32(payload.count))
        bytes[8] = endOfMessage ? 0x01 : 0x00
        bytes.append(contentsOf: payload)
        bytes.append(contentsOf: repeatElement(0, count: paddingLength(for: bytes.count)))
        return bytes
    }

    /// REQUEST_DEV_DEP_MSG_IN (Table 4): asks the device to send at most `transferSize` bytes.
    /// With `termChar` set, bmTransferAttributes.D1 (TermCharEnabled) is set and the device may
    /// end the transfer after that byte (only if its capabilities say it supports TermChar).
    public static func requestDevDepMsgIn(tag: UInt8, transferSize: UInt32, termChar: UInt8? = nil) -> [UInt8] {
        var bytes = header(.requestDevDepMsgIn, tag: tag, transferSize: transferSize)
        if let termChar {
            bytes[8] = 0x02
            bytes[9] = termChar
        }
        return bytes
    }

    /// USB488 TRIGGER (USB488 1.0 Table 2): a header with TransferSize 0 and no payload.
    public static func trigger(tag: UInt8) -> [UInt8] {
        header(.trigger, tag: tag, transferSize: 0)
    }

    /// Splits one message into DEV_DEP_MSG_OUT transfers of at most `maxPayload` bytes, with EOM
    /// only on the last one (USBTMC 1.0 §3.2.1.1). Tags are drawn from `tags` in order.
    /// A `maxPayload` below 1 is treated as 1.
    public static func transfers(for message: [UInt8], maxPayload: Int, tags: inout BTagGenerator) -> [[UInt8]] {
        let maxPayload = Swift.max(1, maxPayload)
        if message.isEmpty { return [devDepMsgOut(tag: tags.next(), payload: message, endOfMessage: true)] }
        var result: [[UInt8]] = []
        var start = 0
        while start < message.count {
            let end = Swift.min(start + maxPayload, message.count)
            result.append(devDepMsgOut(tag: tags.next(), payload: message[start..<end], endOfMessage: end == message.count))
            start = end
        }
        return result
    }

    /// Alignment bytes needed after `length` bytes so the transfer is a multiple of 4.
    public static func paddingLength(for length: Int) -> Int { (4 - length % 4) % 4 }

    static func header(_ id: USBTMCMessageID, tag: UInt8, transferSize: UInt32) -> [UInt8] {
        [id.rawValue, tag, tag.bTagInverse, 0x00,
         UInt8(truncatingIfNeeded: transferSize), UInt8(truncatingIfNeeded: transferSize >> 8),
         UInt8(truncatingIfNeeded: transferSize >> 16), UInt8(truncatingIfNeeded: transferSize >> 24),
         0x00, 0x00, 0x00, 0x00]
    }
}
