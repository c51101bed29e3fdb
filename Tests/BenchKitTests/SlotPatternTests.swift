@testable import BenchKit
import Testing

/// `SlotKind.randomPattern` against the pattern drawn one bit at a time, as the server drew it
/// before the bits were spread eight at a time in C.
@Suite("Random X/P patterns")
struct SlotPatternTests {
    /// A deterministic word source (SplitMix64), counting its draws.
    struct Words {
        var state: UInt64, drawn = 0
        mutating func next() -> UInt64 {
            drawn += 1
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// One bit per signal slot, least significant first, a new word when the last is spent.
    func bitByBit(rows: Int, modesPerRow: Int, slotsPerRow: Int, _ words: inout Words) -> [SlotKind] {
        var pattern = [SlotKind](repeating: .vacuum, count: rows * slotsPerRow)
        var bits: UInt64 = 0, left = 0
        for row in 0..<rows {
            for k in (row * slotsPerRow)..<(row * slotsPerRow + modesPerRow) {
                if left == 0 { bits = words.next(); left = 64 }
                pattern[k] = bits & 1 == 0 ? .x : .p
                bits >>= 1; left -= 1
            }
        }
        return pattern
    }

    /// Rows whose signal bits start anywhere in a word and cross words, rows of one slot, rows with
    /// no vacuum: the same slots and the same number of words drawn.
    @Test(arguments: [(1, 1, 1), (3, 7, 10), (5, 8, 8), (9, 9, 12), (4, 63, 64), (6, 64, 65), (7, 65, 100), (33, 397, 789), (2, 1_000, 1_392)])
    func equalsTheBitByBitPattern(rows: Int, modesPerRow: Int, slotsPerRow: Int) {
        var a = Words(state: UInt64(rows * 1_000 + modesPerRow)), b = a
        let fast = SlotKind.randomPattern(rows: rows, modesPerRow: modesPerRow, slotsPerRow: slotsPerRow) { a.next() }
        let slow = bitByBit(rows: rows, modesPerRow: modesPerRow, slotsPerRow: slotsPerRow, &b)
        let differing = zip(fast, slow).filter { $0 != $1 }.count
        #expect(fast.count == slow.count && differing == 0, "\(differing) of \(slow.count) slots differ")
        #expect(a.drawn == b.drawn && a.state == b.state)
        let signal = fast.filter { $0 != .vacuum }
        #expect(signal.count == rows * modesPerRow)
        if signal.count >= 1_000 {
            let xs = signal.filter { $0 == .x }.count
            #expect(abs(Double(xs) / Double(signal.count) - 0.5) < 5 * 0.5 / Double(signal.count).squareRoot())
        }
    }

    @Test func emptyShapesDrawNothing() {
        var w = Words(state: 1)
        #expect(SlotKind.randomPattern(rows: 0, modesPerRow: 5, slotsPerRow: 9) { w.next() }.isEmpty)
        #expect(SlotKind.randomPattern(rows: 3, modesPerRow: 0, slotsPerRow: 4) { w.next() } == [SlotKind](repeating: .vacuum, count: 12))
        #expect(w.drawn == 0)
    }
}
