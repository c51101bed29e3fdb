import CKernels

extension SlotKind {
    /// A random X/P pattern of `rows` rows of `slotsPerRow` slots: each row's first `modesPerRow`
    /// slots signal, X or P by one fair bit each (bit k of the words `next` returns, least
    /// significant first, k counting the signal slots of all rows in order; ⌈rows · modesPerRow / 64⌉
    /// words drawn, no more), the rest vacuum. The bits are drawn first, then spread into the slots
    /// eight at a time (`qk_pattern_from_bits`): the server draws one such pattern per burst, on
    /// one core, while the other waits.
    public static func randomPattern(rows: Int, modesPerRow: Int, slotsPerRow: Int, next: () -> UInt64) -> [SlotKind] {
        let rows = max(0, rows), modes = max(0, min(modesPerRow, slotsPerRow)), count = rows * max(0, slotsPerRow)
        var bits = [UInt64](repeating: 0, count: (rows * modes + 63) / 64)
        for w in bits.indices { bits[w] = next() }
        guard count > 0 else { return [] }
        // Each case's tag is its raw value: the kernel writes the pattern itself, no copy.
        guard tagsAreRawValues else {
            let codes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialised in
                qk_pattern_from_bits(bits, rows, modes, slotsPerRow, buffer.baseAddress)
                initialised = count
            }
            return codes.map { $0 == 0 ? .x : $0 == 1 ? .p : .vacuum }
        }
        return [SlotKind](unsafeUninitializedCapacity: count) { buffer, initialised in
            UnsafeMutableRawBufferPointer(buffer).withMemoryRebound(to: UInt8.self) { codes in
                qk_pattern_from_bits(bits, rows, modes, slotsPerRow, codes.baseAddress)
            }
            initialised = count
        }
    }
}
