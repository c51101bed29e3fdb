#if canImport(Glibc)
import Glibc
#endif

extension Duration {
    /// Milliseconds for C APIs that take an integer timeout (libusb): rounded up and at least
    /// 1 ms, because 0 means "wait forever" to libusb (docs/hardware.md §3.3) and that is never wanted.
    var clampedMilliseconds: UInt32 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 1 }
        let millis = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        if millis >= Double(UInt32.max) { return UInt32.max }
        return Swift.max(1, UInt32(millis.rounded(.up)))
    }

    /// The duration as a `timespec` for ppoll-based APIs (libgpiod); negative becomes zero.
    var timespecValue: timespec {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds < 0) { return timespec(tv_sec: 0, tv_nsec: 0) }
        return timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    }

    /// Seconds as a Double.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Short human text for error messages: "2 s", "1.5 s", "200 ms", "50 µs".
    public var benchDescription: String {
        let s = secondsValue
        func trim(_ value: Double) -> String {
            let rounded = (value * 1000).rounded() / 1000
            if rounded == rounded.rounded() { return String(Int(rounded)) }
            return String(rounded)
        }
        if abs(s) >= 1 { return "\(trim(s)) s" }
        if abs(s) >= 1e-3 { return "\(trim(s * 1e3)) ms" }
        return "\(trim(s * 1e6)) µs"
    }
}

/// Blocks the calling thread. Only used on the dedicated I/O threads of device actors
/// (see `DedicatedThreadExecutor`), never on the cooperative pool.
func blockingSleep(_ duration: Duration) {
    var request = duration.timespecValue
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}
