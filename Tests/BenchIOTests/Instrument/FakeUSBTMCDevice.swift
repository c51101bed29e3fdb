import BenchIO
import InstrumentModels
import Synchronization

/// An in-memory `USBTransport`: the device side of USBTMC/USB488 written in Swift, in front
/// of the same `SCPIMessageDevice` the bus tests put behind umockdev. It records every bus
/// operation and can inject faults, so the recovery state machine of `USBTMCInstrument` can be
/// checked step by step (L1, docs/hardware.md §5.1).
final class FakeUSBTMCDevice: USBTransport, @unchecked Sendable {
    enum Fault: Equatable { case timeout, stall, noDevice }

    /// One bus operation, as the device saw it.
    enum Operation: Equatable, CustomStringConvertible {
        case bulkOut(msgID: UInt8, tag: UInt8)
        case bulkIn(Int)
        case control(USBTMCControlRequest, value: UInt16)
        case interruptIn
        case clearHalt(UInt8)

        var description: String {
            switch self {
            case let .bulkOut(id, tag): return "bulkOut(\(id), tag \(tag))"
            case let .bulkIn(n): return "bulkIn(\(n))"
            case let .control(r, v): return "\(r)(\(v))"
            case .interruptIn: return "interruptIn"
            case let .clearHalt(ep): return "clearHalt(0x\(String(ep, radix: 16)))"
            }
        }
    }

    struct State {
        var log: [Operation] = []
        var bulkOutFaults: [Fault] = []
        var bulkInFaults: [Fault] = []
        var messageIn: [UInt8] = []
        var request: (tag: UInt8, size: UInt32)?
        var inQueue: [[UInt8]] = []          // transfers (or leftovers) waiting for Bulk-IN reads
        var currentTag: UInt8 = 0
        var notifications: [[UInt8]] = []
        var maxTransferSize = Int.max
        var gone = false
        var clearPendingPolls = 0
        var abortBulkInStatus: USBTMCStatus?
        var corruptNextTag = false
        var sendStrayZeroLengthPacket = false
        /// Quirky firmware: the next header carries this MsgID / a wrong bTagInverse.
        var quirkMsgID: UInt8?
        var quirkInverse = false
        /// Control requests that time out before answering (a busy instrument).
        var controlTimeoutsToInject = 0
        /// The timeout of every control request and of every Bulk-IN read, in order.
        var controlTimeouts: [Duration] = []
        var bulkInTimeouts: [Duration] = []
        var capabilities: [UInt8]
    }

    let device: any SCPIMessageDevice
    let deviceDescription: String
    let interface: USBTMCInterface
    private let state: Mutex<State>

    init(device: any SCPIMessageDevice, interruptIn: Bool = true, acceptsTrigger: Bool = true, maxPacketSize: Int = 64) {
        self.device = device
        deviceDescription = "USBTMC 1313:8072 serial FAKE0001"
        interface = USBTMCInterface(number: 0, interfaceProtocol: .usb488,
                                    bulkOut: USBEndpoint(address: 0x02, maxPacketSize: maxPacketSize),
                                    bulkIn: USBEndpoint(address: 0x81, maxPacketSize: maxPacketSize),
                                    interruptIn: interruptIn ? USBEndpoint(address: 0x83, maxPacketSize: 2) : nil)
        var caps = [UInt8](repeating: 0, count: 24)
        caps[0] = 1; caps[2] = 0x00; caps[3] = 0x01; caps[4] = 0x04
        caps[12] = 0x00; caps[13] = 0x01; caps[14] = acceptsTrigger ? 0x07 : 0x06; caps[15] = 0x0F
        state = Mutex(State(capabilities: caps))
    }

    // MARK: Test controls

    var log: [Operation] { state.withLock { $0.log } }
    func clearLog() { state.withLock { $0.log = [] } }
    func failBulkOut(_ faults: Fault...) { state.withLock { $0.bulkOutFaults += faults } }
    func failBulkIn(_ faults: Fault...) { state.withLock { $0.bulkInFaults += faults } }
    func unplug() { state.withLock { $0.gone = true } }
    func setMaxTransferSize(_ n: Int) { state.withLock { $0.maxTransferSize = n } }
    func setClearPendingPolls(_ n: Int) { state.withLock { $0.clearPendingPolls = n } }
    func setAbortBulkInStatus(_ s: USBTMCStatus?) { state.withLock { $0.abortBulkInStatus = s } }
    func corruptNextTag() { state.withLock { $0.corruptNextTag = true } }
    func sendStrayZeroLengthPacket() { state.withLock { $0.sendStrayZeroLengthPacket = true } }
    func sendQuirkyHeader(msgID: UInt8? = nil, wrongInverse: Bool = false) { state.withLock { $0.quirkMsgID = msgID; $0.quirkInverse = wrongInverse } }
    func timeOutControlRequests(_ n: Int) { state.withLock { $0.controlTimeoutsToInject = n } }
    var controlTimeouts: [Duration] { state.withLock { $0.controlTimeouts } }
    var bulkInTimeouts: [Duration] { state.withLock { $0.bulkInTimeouts } }

    // MARK: USBTransport

    func bulkOut(_ data: [UInt8], timeout: Duration) throws(USBError) -> Int {
        try state.withLock { (s: inout State) throws(USBError) -> Int in
            s.log.append(.bulkOut(msgID: data[0], tag: data[1]))
            if s.gone { throw .noDevice(device: deviceDescription, operation: "Bulk-OUT") }
            if !s.bulkOutFaults.isEmpty { throw fault(s.bulkOutFaults.removeFirst(), "Bulk-OUT", timeout, 0x02) }
            precondition(data.count % 4 == 0, "Bulk-OUT transfers must be padded to 4 bytes")
            let size = Int(UInt32(data[4]) | UInt32(data[5]) << 8 | UInt32(data[6]) << 16 | UInt32(data[7]) << 24)
            switch data[0] {
            case 1:
                s.messageIn += data[12..<(12 + size)]
                if data[8] & 1 == 1 {
                    let message = s.messageIn
                    s.messageIn = []
                    device.receive(message)
                }
            case 2:
                s.request = (data[1], UInt32(size))
            case 128:
                device.trigger()
            default:
                break
            }
            return data.count
        }
    }

    func bulkIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8] {
        try state.withLock { (s: inout State) throws(USBError) -> [UInt8] in
            s.log.append(.bulkIn(maxLength))
            s.bulkInTimeouts.append(timeout)
            if s.gone { throw .noDevice(device: deviceDescription, operation: "Bulk-IN") }
            if !s.bulkInFaults.isEmpty { throw fault(s.bulkInFaults.removeFirst(), "Bulk-IN", timeout, 0x81) }
            if s.sendStrayZeroLengthPacket {
                s.sendStrayZeroLengthPacket = false
                return []
            }
            if s.inQueue.isEmpty, let request = s.request {
                let cap = Swift.min(Int(request.size), s.maxTransferSize)
                guard let chunk = device.readResponse(maxLength: cap) else {
                    throw .timeout(device: deviceDescription, operation: "Bulk-IN", limit: timeout, partial: [])
                }
                let tag = s.corruptNextTag ? request.tag &+ 1 : request.tag
                s.corruptNextTag = false
                defer { s.quirkMsgID = nil; s.quirkInverse = false }
                let count = UInt32(chunk.bytes.count)
                var transfer: [UInt8] = [s.quirkMsgID ?? 2, tag, s.quirkInverse ? tag : ~tag, 0, UInt8(count & 0xFF), UInt8(count >> 8 & 0xFF),
                                         UInt8(count >> 16 & 0xFF), UInt8(count >> 24), chunk.isEndOfMessage ? 1 : 0, 0, 0, 0]
                transfer += chunk.bytes
                transfer += [UInt8](repeating: 0, count: (4 - transfer.count % 4) % 4)
                s.inQueue.append(transfer)
                s.currentTag = request.tag
                s.request = nil
            }
            guard !s.inQueue.isEmpty else {
                throw .timeout(device: deviceDescription, operation: "Bulk-IN", limit: timeout, partial: [])
            }
            var first = s.inQueue.removeFirst()
            if first.count > maxLength {
                s.inQueue.insert(Array(first[maxLength...]), at: 0)
                first = Array(first[..<maxLength])
            }
            return first
        }
    }

    func interruptIn(maxLength: Int, timeout: Duration) throws(USBError) -> [UInt8] {
        try state.withLock { (s: inout State) throws(USBError) -> [UInt8] in
            s.log.append(.interruptIn)
            if s.gone { throw .noDevice(device: deviceDescription, operation: "Interrupt-IN") }
            if !s.notifications.isEmpty { return s.notifications.removeFirst() }
            if let stb = device.takeServiceRequest() { return [0x81, stb] }
            throw .timeout(device: deviceDescription, operation: "Interrupt-IN", limit: timeout, partial: [])
        }
    }

    func controlIn(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, length: UInt16,
                   timeout: Duration) throws(USBError) -> [UInt8] {
        try state.withLock { (s: inout State) throws(USBError) -> [UInt8] in
            guard let r = USBTMCControlRequest(rawValue: request) else {
                throw .stall(device: deviceDescription, operation: "control", endpoint: 0)
            }
            s.log.append(.control(r, value: value))
            s.controlTimeouts.append(timeout)
            if s.gone { throw .noDevice(device: deviceDescription, operation: "\(r)") }
            if s.controlTimeoutsToInject > 0 {
                s.controlTimeoutsToInject -= 1
                throw .timeout(device: deviceDescription, operation: "\(r)", limit: timeout, partial: [])
            }
            precondition(requestType == r.requestType && length == r.responseLength)
            switch r {
            case .getCapabilities:
                return s.capabilities
            case .initiateAbortBulkIn:
                let inProgress = (s.request?.tag == UInt8(value)) || (!s.inQueue.isEmpty && s.currentTag == UInt8(value))
                let status = s.abortBulkInStatus ?? (inProgress ? .success : .failed)
                if status == .success {
                    s.inQueue = [[]]   // the short packet that ends the aborted transfer
                    s.request = nil
                    device.abortResponse()
                }
                return [status.rawValue, UInt8(value)]
            case .checkAbortBulkInStatus:
                return s.inQueue.isEmpty ? [1, 0, 0, 0, 0, 0, 0, 0] : [2, 1, 0, 0, 0, 0, 0, 0]
            case .initiateAbortBulkOut:
                let had = !s.messageIn.isEmpty
                s.messageIn = []
                return [had ? 1 : 0x80, UInt8(value)]
            case .checkAbortBulkOutStatus:
                return [1, 0, 0, 0, 0, 0, 0, 0]
            case .initiateClear:
                s.messageIn = []
                s.inQueue = []
                s.request = nil
                device.deviceClear()
                return [1]
            case .checkClearStatus:
                if s.clearPendingPolls > 0 {
                    s.clearPendingPolls -= 1
                    return [2, 0]
                }
                return [1, 0]
            case .readStatusByte:
                let stb = device.statusByte
                if interface.interruptIn == nil { return [1, UInt8(value), stb] }
                s.notifications.append([0x80 | UInt8(value), stb])
                return [1, UInt8(value), 0]
            case .indicatorPulse, .renControl, .goToLocal, .localLockout:
                return [1]
            }
        }
    }

    func clearHalt(endpoint: UInt8) throws(USBError) {
        try state.withLock { (s: inout State) throws(USBError) in
            s.log.append(.clearHalt(endpoint))
            if s.gone { throw .noDevice(device: deviceDescription, operation: "clear halt") }
        }
    }

    func close() {}

    private func fault(_ f: Fault, _ operation: String, _ timeout: Duration, _ endpoint: UInt8) -> USBError {
        switch f {
        case .timeout: return .timeout(device: deviceDescription, operation: operation, limit: timeout, partial: [])
        case .stall: return .stall(device: deviceDescription, operation: operation, endpoint: endpoint)
        case .noDevice: return .noDevice(device: deviceDescription, operation: operation)
        }
    }
}

/// A power-meter model behind the fake device.
func makeFake(interruptIn: Bool = true, acceptsTrigger: Bool = true, maxPacketSize: Int = 64)
    -> (FakeUSBTMCDevice, SimulatedSCPIDevice<GenericPowerMeterModel>) {
    let device = SimulatedSCPIDevice(model: GenericPowerMeterModel(serialNumber: "FAKE0001"))
    return (FakeUSBTMCDevice(device: device, interruptIn: interruptIn, acceptsTrigger: acceptsTrigger, maxPacketSize: maxPacketSize), device)
}

func fastConfiguration() -> USBTMCInstrument.Configuration {
    var c = USBTMCInstrument.Configuration()
    c.timeout = .milliseconds(100)
    c.controlTimeout = .milliseconds(50)
    c.pollInterval = .milliseconds(1)
    c.maxRecoverySteps = 10
    return c
}
