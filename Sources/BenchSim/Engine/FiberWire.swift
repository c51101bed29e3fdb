import BenchKit
import CKernels
import Foundation

/// The twin's fibre on the wire (little-endian): frames of a 16-byte header — "QBF1", a UInt32
/// type, a UInt64 body length — and a body.
///
/// - hello (0): "qbench-fiber 1", each way once on connect;
/// - burst (1): first shot u64, shots u32, measured shots u32, time f64, slots u32, lit u8, then
///   (lit) Re and Im of every slot's amplitude, f32 each;
/// - answer (2): 0 (nothing comes back), or 1 and the returned light — rows, modes per row, vacuum
///   slots per row, shots (u32), dense u8, ξ Re and Im (shots × modes), D (shots × rows × 2), the
///   dense amplitudes (shots × slots × 2), f32 each — or 2 and a device error (kind, device,
///   message, remedy: u32 length + UTF-8, at most 4 KiB each).
///
/// Everything read is checked (sizes against each other and the burst, counts against limits,
/// numbers finite): a malformed frame is refused with a message, never a crash.
#if _endian(big)
#error("the twin's fibre sends Float32 in memory order, little-endian")
#endif

enum FiberWire {
    static let magic: [UInt8] = Array("QBF1".utf8)
    static let hello = Array("qbench-fiber 1".utf8)
    /// A frame's body: a layer's burst of the largest layout (2^24 slots × 8 bytes) fits, and no
    /// peer can make the other end allocate more.
    static let maximumBody = 1 << 30
    static let maximumSlots = 1 << 24
    static let maximumShots = 1 << 20

    enum Kind: UInt32 { case hello = 0, burst = 1, answer = 2 }

    /// The 16-byte header of a frame whose body is `length` bytes (sent before the body, which is
    /// not copied behind it: a burst's body is 8 bytes per slot, 7 MB for the model's layer).
    static func header(_ kind: Kind, length: Int) -> [UInt8] {
        var w = Writer()
        w.bytes(magic); w.u32(kind.rawValue); w.u64(UInt64(length))
        return w.out
    }

    /// Checks a header and gives the frame's kind and body length.
    static func header(_ h: [UInt8]) throws -> (Kind, Int) {
        var r = Reader(h)
        guard try r.bytes(4) == magic else { throw FiberSocketError("not a fibre frame (bad magic): another program is talking to the fibre port") }
        let raw = try r.u32()
        guard let kind = Kind(rawValue: raw) else { throw FiberSocketError("unknown fibre frame type \(raw)") }
        let length = try r.u64()
        guard length <= UInt64(maximumBody) else { throw FiberSocketError("a fibre frame of \(length) bytes is beyond the \(maximumBody)-byte limit") }
        return (kind, Int(length))
    }

    // MARK: burst

    static func encode(_ light: ArrivingLight) -> [UInt8] {
        var w = Writer()
        w.out.reserveCapacity(25 + 8 * light.slots)
        w.u64(light.firstShot); w.u32(UInt32(light.shots)); w.u32(UInt32(light.returnShots)); w.f64(light.time)
        w.u32(UInt32(light.slots)); w.u8(light.dark ? 0 : 1)
        if let re = light.re, let im = light.im { w.floats(re); w.floats(im) }
        return w.out
    }

    static func decodeBurst(_ body: [UInt8]) throws -> ArrivingLight {
        var r = Reader(body)
        let first = try r.u64(), shots = Int(try r.u32()), back = Int(try r.u32()), time = try r.f64(), slots = Int(try r.u32()), lit = try r.u8()
        guard (1...maximumShots).contains(shots), back <= shots else { throw FiberSocketError("a burst of \(shots) shots with \(back) measured is out of range") }
        guard (1...maximumSlots).contains(slots), time.isFinite, time >= 0, time <= Double(Duration.maximumFileSeconds), lit <= 1 else { throw FiberSocketError("a burst of \(slots) slots at t = \(time) s is out of range") }
        guard first <= UInt64.max >> 21 - UInt64(shots) else { throw FiberSocketError("shot number \(first) is out of range") }
        var re: FloatStorage?, im: FloatStorage?
        if lit == 1 { re = try r.floats(slots); im = try r.floats(slots) }
        try r.end()
        return ArrivingLight(firstShot: first, shots: shots, returnShots: lit == 1 ? back : 0, time: time, slots: slots, re: re, im: im)
    }

    // MARK: answer

    static func encode(_ returned: ReturnedLight?) -> [UInt8] {
        var w = Writer()
        guard let returned else { w.u8(0); return w.out }
        w.u8(1)
        w.u32(UInt32(returned.layout.rows)); w.u32(UInt32(returned.layout.modesPerRow)); w.u32(UInt32(returned.layout.vacuumSlotsPerRow))
        w.u32(UInt32(returned.shots)); w.u8(returned.dense == nil ? 0 : 1)
        w.floats(returned.xiRe); w.floats(returned.xiIm); w.floats(returned.rowDisplacement)
        if let d = returned.dense { w.floats(d) }
        return w.out
    }

    static func encode(_ error: DeviceError) -> [UInt8] {
        var w = Writer()
        w.u8(2)
        for s in [error.kind.rawValue, error.device, error.message, error.remedy] { w.string(s) }
        return w.out
    }

    /// The answer to `light`: what came back, or the client twin's device error.
    static func decodeAnswer(_ body: [UInt8], for light: ArrivingLight) throws -> Result<ReturnedLight?, DeviceError> {
        var r = Reader(body)
        switch try r.u8() {
        case 0:
            try r.end()
            return .success(nil)
        case 2:
            let kind = try r.string(), device = try r.string(), message = try r.string(), remedy = try r.string()
            try r.end()
            return .failure(DeviceError(DeviceError.Kind(rawValue: kind) ?? .instrumentError, device: device, message: message, remedy: remedy))
        case 1:
            let rows = Int(try r.u32()), n = Int(try r.u32()), vac = Int(try r.u32()), shots = Int(try r.u32()), hasDense = try r.u8()
            guard rows > 0, n > 0, hasDense <= 1, shots == light.returnShots,
                  rows.multipliedReportingOverflow(by: n + vac).partialValue == light.slots, !rows.multipliedReportingOverflow(by: n + vac).overflow else {
                throw FiberSocketError("the returned light (\(shots) shots of \(rows) × (\(n) + \(vac)) slots) does not match the burst (\(light.returnShots) of \(light.slots))")
            }
            let layout = FrameLayout(rows: rows, modesPerRow: n, vacuumSlotsPerRow: vac)
            let xr = try r.floats(shots * n), xi = try r.floats(shots * n), d = try r.floats(shots * rows * 2)
            let dense = hasDense == 1 ? try r.floats(shots * light.slots * 2) : nil
            try r.end()
            return .success(ReturnedLight(layout: layout, shots: shots, xiRe: xr, xiIm: xi, rowDisplacement: d, dense: dense))
        case let s:
            throw FiberSocketError("unknown answer status \(s)")
        }
    }

    // MARK: bytes

    struct Writer {
        var out: [UInt8] = []
        mutating func bytes(_ b: [UInt8]) { out += b }
        mutating func u8(_ v: UInt8) { out.append(v) }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        mutating func f64(_ v: Double) { u64(v.bitPattern) }
        mutating func string(_ s: String) {
            let b = Array(s.utf8.prefix(4096))
            u32(UInt32(b.count)); out += b
        }
        /// The values' bytes as they are in memory: little-endian on every platform qbench builds
        /// for (x86-64, AArch64; a big-endian build stops at compile time, below).
        mutating func floats(_ f: FloatStorage) {
            out.append(contentsOf: UnsafeRawBufferPointer(start: f.base, count: 4 * f.count))
        }
    }

    struct Reader {
        let data: [UInt8]
        var at = 0
        init(_ data: [UInt8]) { self.data = data }
        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, n <= data.count - at else { throw FiberSocketError("a fibre frame ends early (\(data.count) bytes)") }
            defer { at += n }
            return Array(data[at..<(at + n)])
        }
        mutating func u8() throws -> UInt8 { try bytes(1)[0] }
        mutating func u32() throws -> UInt32 {
            let b = try bytes(4)
            return b.reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }
        mutating func u64() throws -> UInt64 {
            let b = try bytes(8)
            return b.reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }
        mutating func f64() throws -> Double { Double(bitPattern: try u64()) }
        mutating func string() throws -> String {
            let n = Int(try u32())
            guard n <= 4096 else { throw FiberSocketError("a string of \(n) bytes in a fibre frame is beyond 4 KiB") }
            return String(decoding: try bytes(n), as: UTF8.self)
        }
        /// `count` finite f32 values.
        mutating func floats(_ count: Int) throws -> FloatStorage {
            guard count >= 0, count <= (data.count - at) / 4 else { throw FiberSocketError("a fibre frame ends early: \(count) numbers announced") }
            let f = FloatStorage(count: count, zeroed: false)
            data.withUnsafeBytes { raw in
                if count > 0, let from = raw.baseAddress { UnsafeMutableRawPointer(f.base).copyMemory(from: from + at, byteCount: 4 * count) }
            }
            at += 4 * count
            // NaNs counted and the range found in one vectorised pass (`qk_span`).
            var lowest: Float = 0, highest: Float = 0
            let nans = qk_span(f.base, count, &lowest, &highest, QK_BEST)
            guard nans == 0, count == 0 || (lowest.isFinite && highest.isFinite) else {
                throw FiberSocketError("a fibre frame carries a number that is not finite")
            }
            return f
        }
        func end() throws {
            guard at == data.count else { throw FiberSocketError("a fibre frame has \(data.count - at) bytes too many") }
        }
    }
}
