@testable import BenchKit
import Testing

/// A receiver's slot pattern as the shot kernels and the server's sums read it: 0 X, 1 P, 2 vacuum.
@Suite("Slot kinds")
struct SlotKindTests {
    /// The fast copy of a pattern's bytes is taken (each case's tag is its raw value) and gives
    /// exactly the raw values, element for element.
    @Test func codesAreTheRawValues() {
        #expect(SlotKind.tagsAreRawValues)
        var rng = SystemRandomNumberGenerator()
        let pattern = (0..<10_007).map { _ in [SlotKind.x, .p, .vacuum][Int(rng.next() % 3)] }
        #expect(SlotKind.codes(pattern) == pattern.map(\.rawValue))
        #expect(SlotKind.codes([]) == [])
        #expect(SlotKind.codes([.vacuum, .p, .x]) == [2, 1, 0])
    }
}
