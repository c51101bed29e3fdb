/// The USBTMC / USB488 message layer over a `USBTransport` (docs/hardware.md §0 item 1): whole
/// messages in and out, device clear, status byte, trigger, service requests, and the recovery
/// state machine of USBTMC 1.0 §4.2.1 (docs/hardware.md §1.7):
///
/// - Bulk-IN timeout → INITIATE_ABORT_BULK_IN (bTag of the request) → drain Bulk-IN →
///   CHECK_ABORT_BULK_IN_STATUS until not PENDING → INITIATE_CLEAR / CHECK_CLEAR_STATUS →
///   clear_halt(Bulk-OUT); then `.timeout` is thrown and the next command works.
/// - Bulk-OUT timeout → INITIATE_ABORT_BULK_OUT → CHECK_ABORT_BULK_OUT_STATUS → clear_halt.
/// - STALL (LIBUSB_ERROR_PIPE) → clear_halt(endpoint) → device clear; then `.stalled`.
/// - LIBUSB_ERROR_NO_DEVICE → `.deviceGone`, and every later call fails the same way.
///
/// One instrument has one exchange in flight (USBTMC has no multiplexing), so this is an actor.
/// libusb's synchronous calls block, so the actor runs on its own thread
/// (`DedicatedThreadExecutor`), never on Swift's cooperative pool.
public actor USBTMCInstrument: MessageTransport {
    /// Tunables; the defaults follow the Linux usbtmc driver and python-usbtmc (docs/hardware.md §1.7).
    public struct Configuration: Sendable, Equatable {
        /// Timeout of `write`/`read`/`query` when the caller passes none.
        public var timeout: Duration = .seconds(5)
        /// Largest DEV_DEP_MSG_OUT payload per transfer, and the TransferSize asked for in each
        /// REQUEST_DEV_DEP_MSG_IN (python-usbtmc: 1 MiB).
        public var maxTransferSize: Int = 1 << 20
        /// Timeout of every class control request (GET_CAPABILITIES, INITIATE_CLEAR, CHECK_*,
        /// INITIATE_ABORT_*, READ_STATUS_BYTE, REN_CONTROL...): 5 s, Linux's
        /// `USB_CTRL_GET_TIMEOUT` for all of them and pyvisa-py's `abort_timeout_ms`
        /// (docs/hardware.md §1.7). A busy scope or AWG may take seconds to answer INITIATE_CLEAR.
        public var controlTimeout: Duration = .seconds(5)
        /// Timeout of each Bulk-IN drain read during recovery: the aborted transfer's data is
        /// already queued, so Linux uses 300 ms here ("Data must be present. So use low
        /// timeout 300 ms") and so do we (docs/hardware.md §1.7).
        public var drainTimeout: Duration = .milliseconds(300)
        /// Send USB488 REN_CONTROL(1) after opening when GET_CAPABILITIES says the interface
        /// accepts it (USB488 1.0 §4.3.2); pyvisa-py does this because some Thorlabs firmware
        /// ignores commands until Remote Enable is asserted (docs/hardware.md §1.4).
        public var remoteEnableOnOpen: Bool = true
        /// Bulk-IN header checking (docs/hardware.md §1.3): `.strict` (default) refuses a header
        /// whose bTagInverse is wrong or whose MsgID is not 2; `.lenient` accepts them, as the
        /// Linux driver (never checks the inverse) and pyvisa-py (`from_quirky`) do. The bTag
        /// itself and TransferSize are checked either way. Bench files select it per instrument
        /// with the binding option `usbtmc-quirks: [lenient-bulk-in-header]`.
        public var bulkInHeaderCheck: DevDepMsgInHeader.Check = .strict
        /// Pause between CHECK_* polls that answered PENDING (Linux: 50 ms).
        public var pollInterval: Duration = .milliseconds(50)
        /// At most this many CHECK_* polls or drain reads (Linux: 100).
        public var maxRecoverySteps: Int = 100
        /// Device-clear when opened, which drops a stale reply left by a previous program.
        public var clearOnOpen: Bool = true
        /// TermChar for REQUEST_DEV_DEP_MSG_IN; used only when GET_CAPABILITIES says the
        /// device supports it (USBTMC 1.0 Table 4, D1).
        public var termChar: UInt8? = nil

        public init() {}
    }

    /// What the recovery state machine did so far (for logs and tests).
    public struct RecoveryCounters: Sendable, Equatable {
        public var readTimeouts = 0
        public var writeTimeouts = 0
        public var abortsBulkIn = 0
        public var abortsBulkOut = 0
        public var deviceClears = 0
        public var clearHalts = 0
        public var stalls = 0
        public var protocolViolations = 0
        public init() {}
    }

    private enum State: Equatable {
        case ready
        case gone(String)
        case closed
    }

    public nonisolated let resourceName: String
    public nonisolated let interface: USBTMCInterface
    public nonisolated let configuration: Configuration
    /// The GET_CAPABILITIES answer read when the instrument was opened.
    public private(set) var capabilities: USBTMCCapabilities?
    public private(set) var recoveryCounters = RecoveryCounters()

    private let transport: any USBTransport
    private let executor: DedicatedThreadExecutor
    private var tags = BTagGenerator()
    private var statusTags = StatusByteTagGenerator()
    /// bTag of the last Bulk-OUT transfer carrying data, and of the last REQUEST_DEV_DEP_MSG_IN:
    /// the abort requests need them (docs/hardware.md §1.2).
    public private(set) var lastWriteTag: UInt8 = 0
    public private(set) var lastReadTag: UInt8 = 0
    private var state = State.ready
    private var pendingServiceRequests: [UInt8] = []

    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    private init(transport: any USBTransport, configuration: Configuration) {
        var configuration = configuration
        // TransferSize is a u32 and must be positive (USBTMC 1.0 Table 3/4).
        configuration.maxTransferSize = Swift.min(Swift.max(1, configuration.maxTransferSize), Int(UInt32.max) - 64)
        configuration.maxRecoverySteps = Swift.max(1, configuration.maxRecoverySteps)
        self.transport = transport
        self.configuration = configuration
        self.resourceName = transport.deviceDescription
        self.interface = transport.interface
        self.executor = DedicatedThreadExecutor(name: "usbtmc \(transport.deviceDescription)")
    }

    deinit {
        executor.shutdown()
    }

    /// Opens the message layer on an already claimed interface: reads GET_CAPABILITIES and,
    /// unless disabled, device-clears the instrument.
    public static func open(transport: any USBTransport, configuration: Configuration = Configuration())
        async throws(TransportError) -> USBTMCInstrument {
        let instrument = USBTMCInstrument(transport: transport, configuration: configuration)
        try await instrument.start()
        return instrument
    }

    /// Finds, claims and opens the instrument that matches (by VID, PID, serial number).
    /// `detachKernelDriver: false` leaves an interface held by the kernel's usbtmc driver alone
    /// (throws `.usb(.busy)`), for `qbench scan`.
    public static func open(_ match: USBTMCDeviceMatch, context: USBContext,
                            configuration: Configuration = Configuration(), detachKernelDriver: Bool = true) async throws(TransportError) -> USBTMCInstrument {
        let transport: LibUSBTransport
        do throws(USBError) {
            transport = try context.open(match, detachKernelDriver: detachKernelDriver)
        } catch {
            throw .usb(error)
        }
        return try await open(transport: transport, configuration: configuration)
    }

    private func start() throws(TransportError) {
        // A descriptor with wMaxPacketSize 0 would divide by zero when the Bulk-IN buffer is
        // sized; Linux refuses such a device too ("Couldn't get wMaxPacketSize").
        for (name, endpoint) in [("Bulk-IN", interface.bulkIn), ("Bulk-OUT", interface.bulkOut)] where endpoint.maxPacketSize <= 0 {
            throw .protocolViolation(resource: resourceName,
                                     detail: "the \(name) endpoint 0x\(String(endpoint.address, radix: 16)) reports wMaxPacketSize \(endpoint.maxPacketSize); the device cannot be used (its USB descriptors are broken: update its firmware)")
        }
        let bytes = try control(.getCapabilities, value: 0, index: UInt16(interface.number))
        let caps = try decode { () throws(USBTMCCodecError) -> USBTMCCapabilities in try USBTMCCapabilities(response: bytes) }
        guard caps.status == .success else {
            throw .requestFailed(resource: resourceName, request: "GET_CAPABILITIES", status: caps.status.description)
        }
        capabilities = caps
        if configuration.clearOnOpen { try deviceClear() }
        if configuration.remoteEnableOnOpen && interface.interfaceProtocol == .usb488 && caps.acceptsRemoteLocal {
            try simpleRequest(.renControl, value: 1)
        }
    }

    /// Releases the interface. Later calls throw `.closed`.
    public func close() {
        transport.close()
        if state == .ready { state = .closed }
    }

    // MARK: - Messages (USBTMC 1.0 §3.2 and §3.3)

    /// Sends one message as DEV_DEP_MSG_OUT transfers of at most `maxTransferSize` payload
    /// bytes, EOM set on the last (USBTMC 1.0 §3.2.1.1).
    public func write(_ message: [UInt8], timeout: Duration) throws(TransportError) {
        try ensureUsable()
        guard !message.isEmpty else {
            // USBTMC 1.0 Table 3: "TransferSize must be > 0x00000000".
            throw .unsupported(resource: resourceName, feature: "an empty message",
                               hint: "USBTMC 1.0 Table 3 requires TransferSize > 0: send at least one byte (e.g. the command and its newline)")
        }
        let transfers = USBTMCBulkOut.transfers(for: message, maxPayload: configuration.maxTransferSize, tags: &tags)
        let deadline = ContinuousClock.now + timeout
        for transfer in transfers {
            lastWriteTag = transfer[1]
            try sendBulkOut(transfer, timeout: remaining(until: deadline), limit: timeout,
                            operation: "sending \(describeBytes(message, limit: 48))")
        }
    }

    /// Sends `message` with the default timeout.
    public func write(_ message: [UInt8]) throws(TransportError) {
        try write(message, timeout: configuration.timeout)
    }

    /// One REQUEST_DEV_DEP_MSG_IN / DEV_DEP_MSG_IN exchange (USBTMC 1.0 §3.3): at most
    /// `maxLength` payload bytes, possibly fewer; `isEndOfMessage` is the EOM bit.
    public func readChunk(maxLength: Int, timeout: Duration) throws(TransportError) -> MessageChunk {
        try ensureUsable()
        return try readTransfer(maxPayload: Swift.min(Swift.max(1, maxLength), configuration.maxTransferSize),
                                deadline: ContinuousClock.now + timeout, limit: timeout)
    }

    /// Reads one whole message: DEV_DEP_MSG_IN transfers until one has EOM set, all within
    /// `timeout`, at most `maxLength` bytes.
    public func read(timeout: Duration, maxLength: Int = 64 << 20) throws(TransportError) -> [UInt8] {
        try ensureUsable()
        return try readMessage(deadline: ContinuousClock.now + timeout, limit: timeout, maxLength: maxLength)
    }

    private func readMessage(deadline: ContinuousClock.Instant, limit: Duration, maxLength: Int) throws(TransportError) -> [UInt8] {
        var message: [UInt8] = []
        while true {
            let budget = maxLength - message.count
            guard budget > 0 else {
                _ = try? abortBulkIn(tag: lastReadTag)
                try deviceClear()
                throw .responseTooLong(resource: resourceName, limit: maxLength)
            }
            let chunk = try readTransfer(maxPayload: Swift.min(budget, configuration.maxTransferSize),
                                         deadline: deadline, limit: limit)
            message += chunk.bytes
            if chunk.isEndOfMessage { return message }
        }
    }

    /// Reads one whole message with the default timeout.
    public func read() throws(TransportError) -> [UInt8] {
        try read(timeout: configuration.timeout)
    }

    /// `write` then `read`, with no other exchange in between.
    public func query(_ message: [UInt8], timeout: Duration? = nil) throws(TransportError) -> [UInt8] {
        let limit = timeout ?? configuration.timeout
        let deadline = ContinuousClock.now + limit
        try write(message, timeout: limit)
        return try readMessage(deadline: deadline, limit: limit, maxLength: 64 << 20)
    }

    /// Device clear (USBTMC 1.0 §4.2.1.6–§4.2.1.7): INITIATE_CLEAR, CHECK_CLEAR_STATUS until
    /// done (draining Bulk-IN while bmClear.D0 is set), then clear_halt(Bulk-OUT).
    public func clear(timeout: Duration) throws(TransportError) {
        try ensureUsable()
        try deviceClear()
    }

    // MARK: - USB488 (USB488 1.0 §3.2.1.1, §3.4, §4.3)

    /// READ_STATUS_BYTE (USB488 1.0 §4.3.1). With an Interrupt-IN endpoint the status byte
    /// arrives there as `0x80 | bTag, STB` (Table 7); SRQ notifications seen meanwhile are kept
    /// for `waitForServiceRequest`.
    public func readStatusByte(timeout: Duration? = nil) throws(TransportError) -> UInt8 {
        try ensureUsable()
        guard interface.interfaceProtocol == .usb488 else {
            throw .unsupported(resource: resourceName, feature: "READ_STATUS_BYTE",
                               hint: "the interface is plain USBTMC, not USB488; query *STB? instead")
        }
        let limit = timeout ?? configuration.timeout
        let deadline = ContinuousClock.now + limit
        let tag = statusTags.next()
        let bytes = try control(.readStatusByte, value: UInt16(tag), index: UInt16(interface.number))
        let reply = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.ReadStatusByte in
            try USBTMCControlResponse.ReadStatusByte(response: bytes, expectedTag: tag)
        }
        guard reply.status == .success else {
            throw .requestFailed(resource: resourceName, request: "READ_STATUS_BYTE", status: reply.status.description)
        }
        guard interface.interruptIn != nil else { return reply.statusByte }
        while true {
            guard let data = try readInterrupt(deadline: deadline) else {
                throw .timeout(resource: resourceName, operation: "the READ_STATUS_BYTE reply (bTag \(tag)) on Interrupt-IN",
                               limit: limit, recovery: "nothing was aborted; the next READ_STATUS_BYTE uses a new bTag")
            }
            switch USB488Notification(data) {
            case .statusByte(let t, let stb) where t == tag:
                return stb
            case .serviceRequest(let stb):
                pendingServiceRequests.append(stb)
            default:
                continue   // a late reply to an earlier READ_STATUS_BYTE, or vendor specific
            }
        }
    }

    /// Waits for a service request (SRQ: Interrupt-IN notification 0x81, USB488 1.0 §3.4.2)
    /// and returns its status byte, or nil when `timeout` passes without one. Typical use:
    /// `*CLS; *ESE 1; *SRE 32`, start a long operation followed by `*OPC`, then wait here.
    public func waitForServiceRequest(timeout: Duration) throws(TransportError) -> UInt8? {
        try ensureUsable()
        if !pendingServiceRequests.isEmpty { return pendingServiceRequests.removeFirst() }
        guard interface.interruptIn != nil else {
            throw .unsupported(resource: resourceName, feature: "service requests on Interrupt-IN",
                               hint: "the interface has no Interrupt-IN endpoint; poll readStatusByte() for bit 6 (RQS) instead")
        }
        let deadline = ContinuousClock.now + timeout
        while let data = try readInterrupt(deadline: deadline) {
            if case .serviceRequest(let stb) = USB488Notification(data) { return stb }
        }
        return nil
    }

    /// The USB488 TRIGGER message (USB488 1.0 §3.2.1.1), the USB equivalent of GPIB GET.
    public func trigger(timeout: Duration? = nil) throws(TransportError) {
        try ensureUsable()
        guard capabilities?.acceptsTrigger == true else {
            throw .unsupported(resource: resourceName, feature: "the USB488 TRIGGER message",
                               hint: "GET_CAPABILITIES does not list it; send *TRG instead")
        }
        let tag = tags.next()
        lastWriteTag = tag
        let limit = timeout ?? configuration.timeout
        try sendBulkOut(USBTMCBulkOut.trigger(tag: tag), timeout: limit, limit: limit, operation: "the USB488 TRIGGER message")
    }

    /// INDICATOR_PULSE (USBTMC 1.0 §4.2.1.9): blinks the front-panel activity light, to find
    /// which of several identical instruments this is.
    public func indicatorPulse() throws(TransportError) {
        try ensureUsable()
        guard capabilities?.acceptsIndicatorPulse == true else {
            throw .unsupported(resource: resourceName, feature: "INDICATOR_PULSE", hint: "GET_CAPABILITIES does not list it")
        }
        try simpleRequest(.indicatorPulse, value: 0)
    }

    /// USB488 REN_CONTROL (USB488 1.0 §4.3.2): assert or release Remote Enable.
    public func setRemoteEnable(_ enabled: Bool) throws(TransportError) {
        try ensureRemoteLocal()
        try simpleRequest(.renControl, value: enabled ? 1 : 0)
    }

    /// USB488 GO_TO_LOCAL (USB488 1.0 §4.3.3): give the front panel back.
    public func goToLocal() throws(TransportError) {
        try ensureRemoteLocal()
        try simpleRequest(.goToLocal, value: 0)
    }

    /// USB488 LOCAL_LOCKOUT (USB488 1.0 §4.3.4): disable the front panel's local key.
    public func localLockout() throws(TransportError) {
        try ensureRemoteLocal()
        try simpleRequest(.localLockout, value: 0)
    }

    // MARK: - Transfers

    private func remaining(until deadline: ContinuousClock.Instant) -> Duration {
        Swift.max(deadline - ContinuousClock.now, .milliseconds(1))
    }

    private func ensureUsable() throws(TransportError) {
        switch state {
        case .ready: return
        case .gone(let detail): throw .deviceGone(resource: resourceName, detail: "earlier: \(detail)")
        case .closed: throw .closed(resource: resourceName)
        }
    }

    private func ensureRemoteLocal() throws(TransportError) {
        try ensureUsable()
        guard capabilities?.acceptsRemoteLocal == true else {
            throw .unsupported(resource: resourceName, feature: "REN_CONTROL / GO_TO_LOCAL / LOCAL_LOCKOUT",
                               hint: "GET_CAPABILITIES does not list them (USB488 interface capabilities D1)")
        }
    }

    /// Maps a USB failure that the state machine does not recover from.
    private func failure(_ error: USBError, during operation: String) -> TransportError {
        switch error {
        case .noDevice:
            let detail = "\(operation) failed with LIBUSB_ERROR_NO_DEVICE"
            state = .gone(detail)
            return .deviceGone(resource: resourceName, detail: detail)
        case .closed:
            return .closed(resource: resourceName)
        default:
            return .usb(error)
        }
    }

    private func decode<T>(_ body: () throws(USBTMCCodecError) -> T) throws(TransportError) -> T {
        do throws(USBTMCCodecError) {
            return try body()
        } catch {
            recoveryCounters.protocolViolations += 1
            throw .protocolViolation(resource: resourceName, detail: error.description)
        }
    }

    private func sendBulkOut(_ transfer: [UInt8], timeout: Duration, limit: Duration, operation: String) throws(TransportError) {
        do throws(USBError) {
            _ = try transport.bulkOut(transfer, timeout: timeout)
        } catch {
            switch error {
            case .timeout:
                recoveryCounters.writeTimeouts += 1
                let recovery = try recoverFromWriteTimeout(tag: transfer[1])
                throw .timeout(resource: resourceName, operation: operation, limit: limit, recovery: recovery)
            case .stall(_, _, let endpoint):
                let recovered = try recoverFromStall(endpoint: endpoint)
                throw .stalled(resource: resourceName, operation: operation, recovered: recovered)
            default:
                throw failure(error, during: operation)
            }
        }
    }

    /// One DEV_DEP_MSG_IN transfer. The Bulk-IN buffer is a multiple of wMaxPacketSize larger
    /// than header + TransferSize + alignment, so the short (or zero-length) packet that ends
    /// the transfer always fits in the same read (pyvisa-py does the same, docs/hardware.md §1.3).
    private func readTransfer(maxPayload: Int, deadline: ContinuousClock.Instant, limit: Duration) throws(TransportError) -> MessageChunk {
        let requested = UInt32(Swift.max(1, maxPayload))
        let tag = tags.next()
        lastReadTag = tag
        let termChar = capabilities?.supportsTermChar == true ? configuration.termChar : nil
        let operation = "reading a reply"
        try sendBulkOut(USBTMCBulkOut.requestDevDepMsgIn(tag: tag, transferSize: requested, termChar: termChar),
                        timeout: remaining(until: deadline), limit: limit, operation: "REQUEST_DEV_DEP_MSG_IN")
        let packet = Swift.max(1, interface.bulkIn.maxPacketSize)   // never 0: checked when opened
        let bufferSize = ((Int(requested) + 12 + 3) / packet + 1) * packet
        var received: [UInt8] = []
        var header: DevDepMsgInHeader?
        var skippedZeroLengthPacket = false
        while true {
            let data: [UInt8]
            do throws(USBError) {
                data = try transport.bulkIn(maxLength: bufferSize, timeout: remaining(until: deadline))
            } catch {
                switch error {
                case .timeout:
                    recoveryCounters.readTimeouts += 1
                    let recovery = try recoverFromReadTimeout(tag: tag)
                    throw .timeout(resource: resourceName, operation: operation, limit: limit, recovery: recovery)
                case .stall(_, _, let endpoint):
                    let recovered = try recoverFromStall(endpoint: endpoint)
                    throw .stalled(resource: resourceName, operation: operation, recovered: recovered)
                default:
                    throw failure(error, during: operation)
                }
            }
            if header == nil && received.isEmpty && data.isEmpty && !skippedZeroLengthPacket {
                // A zero-length packet left over from a transfer that ended on a packet boundary.
                skippedZeroLengthPacket = true
                continue
            }
            received += data
            let shortPacket = data.count < bufferSize
            if header == nil {
                if received.count < 12 {
                    if shortPacket {
                        try violation(USBTMCCodecError.shortHeader(received: received.count).description, tag: tag)
                    }
                    continue
                }
                do throws(USBTMCCodecError) {
                    header = try DevDepMsgInHeader.parse(received, expectedTag: tag, requestedSize: requested,
                                                         check: configuration.bulkInHeaderCheck)
                } catch {
                    try violation(error.description, tag: tag)
                }
            }
            guard let header else { continue }
            let end = 12 + Int(header.transferSize)
            if received.count >= end {
                return MessageChunk(bytes: Array(received[12..<end]), isEndOfMessage: header.endOfMessage)
            }
            if shortPacket {
                try violation(USBTMCCodecError.truncatedPayload(announced: header.transferSize, received: received.count - 12).description,
                              tag: tag)
            }
        }
    }

    private func readInterrupt(deadline: ContinuousClock.Instant) throws(TransportError) -> [UInt8]? {
        let size = Swift.max(2, interface.interruptIn?.maxPacketSize ?? 2)
        while ContinuousClock.now < deadline {
            do throws(USBError) {
                let data = try transport.interruptIn(maxLength: size, timeout: remaining(until: deadline))
                if data.count >= 2 { return data }
            } catch {
                switch error {
                case .timeout: return nil
                case .stall(_, _, let endpoint):
                    recoveryCounters.stalls += 1
                    do throws(USBError) { try transport.clearHalt(endpoint: endpoint) } catch {
                        throw failure(error, during: "clearing the Interrupt-IN halt")
                    }
                    recoveryCounters.clearHalts += 1
                default:
                    throw failure(error, during: "reading Interrupt-IN")
                }
            }
        }
        return nil
    }

    // MARK: - Control requests

    private func control(_ request: USBTMCControlRequest, value: UInt16, index: UInt16) throws(TransportError) -> [UInt8] {
        do throws(USBError) {
            return try transport.controlIn(requestType: request.requestType, request: request.rawValue, value: value,
                                           index: index, length: request.responseLength, timeout: configuration.controlTimeout)
        } catch {
            switch error {
            case .timeout:
                throw .timeout(resource: resourceName, operation: request.description, limit: configuration.controlTimeout,
                               recovery: "the control endpoint did not answer; the instrument may still be busy with a long operation: wait for it to finish and retry; if it never answers, unplug and reconnect it and open it again")
            case .stall:
                throw .requestFailed(resource: resourceName, request: request.description, status: "STALL (request not supported)")
            default:
                throw failure(error, during: request.description)
            }
        }
    }

    private func simpleRequest(_ request: USBTMCControlRequest, value: UInt16) throws(TransportError) {
        let bytes = try control(request, value: value, index: UInt16(interface.number))
        let status = try decode { () throws(USBTMCCodecError) -> USBTMCStatus in try USBTMCControlResponse.status(bytes, request: request) }
        guard status == .success else {
            throw .requestFailed(resource: resourceName, request: request.description, status: status.description)
        }
    }

    private func clearHalt(_ endpoint: UInt8) throws(TransportError) {
        do throws(USBError) {
            try transport.clearHalt(endpoint: endpoint)
            recoveryCounters.clearHalts += 1
        } catch {
            throw failure(error, during: "clearing the halt of endpoint 0x\(String(endpoint, radix: 16))")
        }
    }

    // MARK: - Recovery (USBTMC 1.0 §4.2.1.2–§4.2.1.7, docs/hardware.md §1.7)

    private func recoverFromReadTimeout(tag: UInt8) throws(TransportError) -> String {
        let status = try abortBulkIn(tag: tag)
        try deviceClear()
        return "INITIATE_ABORT_BULK_IN for bTag \(tag) answered \(status), the pending reply was discarded and the device cleared; the next command can be sent"
    }

    private func recoverFromWriteTimeout(tag: UInt8) throws(TransportError) -> String {
        recoveryCounters.abortsBulkOut += 1
        let bytes = try control(.initiateAbortBulkOut, value: UInt16(tag), index: UInt16(interface.bulkOut.address))
        let initiate = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.InitiateAbort in
            try USBTMCControlResponse.InitiateAbort(response: bytes, request: .initiateAbortBulkOut)
        }
        if initiate.status == .success {
            for _ in 0..<configuration.maxRecoverySteps {
                let reply = try control(.checkAbortBulkOutStatus, value: 0, index: UInt16(interface.bulkOut.address))
                let check = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.CheckAbortBulkOut in
                    try USBTMCControlResponse.CheckAbortBulkOut(response: reply)
                }
                guard check.status == .pending else { break }
                blockingSleep(configuration.pollInterval)
            }
        }
        try clearHalt(interface.bulkOut.address)
        return "INITIATE_ABORT_BULK_OUT for bTag \(tag) answered \(initiate.status) and the Bulk-OUT halt was cleared; the message was not delivered"
    }

    /// INITIATE_ABORT_BULK_IN and what follows it (USBTMC 1.0 §4.2.1.4–§4.2.1.5).
    private func abortBulkIn(tag: UInt8) throws(TransportError) -> USBTMCStatus {
        recoveryCounters.abortsBulkIn += 1
        let endpoint = UInt16(interface.bulkIn.address)
        let bytes = try control(.initiateAbortBulkIn, value: UInt16(tag), index: endpoint)
        let initiate = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.InitiateAbort in
            try USBTMCControlResponse.InitiateAbort(response: bytes, request: .initiateAbortBulkIn)
        }
        switch initiate.status {
        case .success:
            // The device ends the aborted transfer with a short packet: read up to it.
            try drainBulkIn()
            for _ in 0..<configuration.maxRecoverySteps {
                let reply = try control(.checkAbortBulkInStatus, value: 0, index: endpoint)
                let check = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.CheckAbortBulkIn in
                    try USBTMCControlResponse.CheckAbortBulkIn(response: reply)
                }
                if check.status == .pending {
                    if check.moreDataQueued { try drainBulkIn() } else { blockingSleep(configuration.pollInterval) }
                    continue
                }
                guard check.status == .success else {
                    throw .requestFailed(resource: resourceName, request: "CHECK_ABORT_BULK_IN_STATUS", status: check.status.description)
                }
                break
            }
        case .failed:
            break   // no transfer in progress and the Bulk-IN FIFO is empty
        case .transferNotInProgress:
            try drainBulkIn()   // bTag mismatch or data still queued: the device clear that follows resynchronises
        default:
            throw .requestFailed(resource: resourceName, request: "INITIATE_ABORT_BULK_IN", status: initiate.status.description)
        }
        return initiate.status
    }

    /// Reads Bulk-IN until a short packet or a (short) timeout: discards whatever is queued.
    private func drainBulkIn() throws(TransportError) {
        let packet = Swift.max(1, interface.bulkIn.maxPacketSize)   // never 0: checked when opened
        let size = Swift.max(packet, 4096 / packet * packet)
        for _ in 0..<configuration.maxRecoverySteps {
            do throws(USBError) {
                let data = try transport.bulkIn(maxLength: size, timeout: configuration.drainTimeout)
                if data.count < size { return }
            } catch {
                switch error {
                case .timeout: return
                case .stall(_, _, let endpoint):
                    try clearHalt(endpoint)
                    return
                default: throw failure(error, during: "draining Bulk-IN")
                }
            }
        }
    }

    /// INITIATE_CLEAR / CHECK_CLEAR_STATUS / clear_halt(Bulk-OUT) (USBTMC 1.0 §4.2.1.6–§4.2.1.7).
    private func deviceClear() throws(TransportError) {
        recoveryCounters.deviceClears += 1
        let number = UInt16(interface.number)
        let bytes = try control(.initiateClear, value: 0, index: number)
        let status = try decode { () throws(USBTMCCodecError) -> USBTMCStatus in
            try USBTMCControlResponse.status(bytes, request: .initiateClear)
        }
        guard status == .success else {
            throw .requestFailed(resource: resourceName, request: "INITIATE_CLEAR", status: status.description)
        }
        var finished = false
        for _ in 0..<configuration.maxRecoverySteps {
            let reply = try control(.checkClearStatus, value: 0, index: number)
            let check = try decode { () throws(USBTMCCodecError) -> USBTMCControlResponse.CheckClear in
                try USBTMCControlResponse.CheckClear(response: reply)
            }
            if check.status == .pending {
                if check.bulkInDataQueued { try drainBulkIn() } else { blockingSleep(configuration.pollInterval) }
                continue
            }
            guard check.status == .success else {
                throw .requestFailed(resource: resourceName, request: "CHECK_CLEAR_STATUS", status: check.status.description)
            }
            finished = true
            break
        }
        guard finished else {
            throw .requestFailed(resource: resourceName, request: "CHECK_CLEAR_STATUS",
                                 status: "still PENDING after \(configuration.maxRecoverySteps) polls")
        }
        try clearHalt(interface.bulkOut.address)
    }

    /// clear_halt on the stalled endpoint, then a device clear (docs/hardware.md §3.4). Returns
    /// false when the halt or the clear could not be cleared (the device is wedged).
    private func recoverFromStall(endpoint: UInt8) throws(TransportError) -> Bool {
        recoveryCounters.stalls += 1
        do throws(TransportError) {
            try clearHalt(endpoint)
            try deviceClear()
            return true
        } catch {
            if case .deviceGone = error { throw error }
            return false
        }
    }

    /// A malformed transfer: abort it, clear the device, report.
    private func violation(_ detail: String, tag: UInt8) throws(TransportError) -> Never {
        recoveryCounters.protocolViolations += 1
        do throws(TransportError) {
            _ = try abortBulkIn(tag: tag)
            try deviceClear()
        } catch {
            if case .deviceGone = error { throw error }
        }
        throw .protocolViolation(resource: resourceName, detail: detail)
    }
}
