import Drivers
import Testing

/// Issue 11: a duration option beyond Int64 nanoseconds trapped in the conversion; it is refused.
struct DurationTextTests {
    @Test(arguments: [("10 µs", 10_000.0), ("2.5 ms", 2_500_000.0), ("0 s", 0.0), ("86400 s", 86_400e9), ("7 ns", 7.0)])
    func durationsParse(text: String, nanoseconds: Double) throws {
        let d = try #require(DurationText.parse(text))
        #expect(abs(DurationText.seconds(d) * 1e9 - nanoseconds) < 1e-3)
    }

    @Test(arguments: ["1e10 s", "1e300 s", "9.3e18 ns", "86401 s", "inf s", "nan s", "-1 ms", "10 parsecs", "", "s"])
    func outOfRangeOrMalformedIsRefusedNotTrapped(text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}
