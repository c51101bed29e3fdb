import BenchIO
import BenchKit

extension DeviceError {
    /// The operator-facing form of any failure below the device protocols: SCPI errors name the
    /// command that failed, transport failures say whether the instrument is gone or silent, GPIO
    /// failures name the chip, line and holder. A `DeviceError` passes through unchanged.
    public static func from(_ error: any Error, device: String) -> DeviceError {
        switch error {
        case let e as DeviceError: return e
        case let e as SCPIError: return from(e, device: device)
        case let e as TransportError: return from(e, command: nil, device: device)
        case let e as USBError: return from(TransportError.usb(e), command: nil, device: device)
        case let e as GPIOError: return from(e, device: device)
        case is CancellationError:
            return DeviceError(.notReady, device: device, message: "the operation was cancelled",
                               remedy: "the instrument may be mid-command: call makeSafe() before using it again")
        default:
            return DeviceError(.instrumentError, device: device, message: "\(error)", remedy: "check the instrument and retry")
        }
    }

    static func from(_ error: SCPIError, device: String) -> DeviceError {
        switch error {
        case let .instrument(command, errors, _), let .queryRejected(command, errors, _):
            let list = errors.map(\.description).joined(separator: "; ")
            return DeviceError(.instrumentError, device: device, message: "the instrument rejected \"\(command)\": \(list)",
                               remedy: remedy(for: errors.first))
        case let .transport(command, transportError):
            return from(transportError, command: command, device: device)
        case let .unexpectedResponse(command, response, expected, _):
            return DeviceError(.instrumentError, device: device,
                               message: "\"\(command)\" was answered with \"\(response.prefix(80))\", expected \(expected)",
                               remedy: "check that the address names the instrument model this driver is for (*IDN?), and its data format settings")
        case let .malformedBlock(command, problem, _):
            return DeviceError(.instrumentError, device: device, message: "\"\(command)\" returned a bad binary block: \(problem)",
                               remedy: "the device was cleared; retry, and check the waveform format settings if it repeats")
        case let .errorQueueNotDraining(command, errors, limit, _):
            return DeviceError(.instrumentError, device: device,
                               message: "the error queue did not empty after \(limit) reads following \"\(command)\" (last: \(errors.last?.description ?? "?"))",
                               remedy: "send *CLS from the front panel or power-cycle the instrument")
        case let .invalidCommand(command, reason):
            return DeviceError(.invalidRequest, device: device, message: "cannot send \"\(command)\": \(reason)",
                               remedy: "this is a driver bug: report it with the request that caused it")
        }
    }

    static func from(_ error: TransportError, command: String?, device: String) -> DeviceError {
        let during = command.map { " during \"\($0)\"" } ?? ""
        switch error {
        case let .timeout(_, operation, limit, recovery):
            return DeviceError(.timeout, device: device, message: "no answer\(during): \(operation) did not finish within \(limit.benchDescription) (\(recovery))",
                               remedy: "check that the instrument is on and connected; a slow operation needs a longer timeout")
        case let .deviceGone(_, detail):
            return DeviceError(.disconnected, device: device, message: "the instrument is gone\(during) (\(detail))",
                               remedy: "reconnect or power it on, then open the bench again")
        case .closed:
            return DeviceError(.disconnected, device: device, message: "the connection was closed\(during)",
                               remedy: "open the bench again")
        case let .usb(usbError):
            switch usbError {
            case .noDevice:
                return DeviceError(.disconnected, device: device, message: usbError.description, remedy: "reconnect it and open the bench again")
            case .timeout:
                return DeviceError(.timeout, device: device, message: usbError.description, remedy: "check the cable and that the instrument is on")
            case .accessDenied, .busy, .noMatchingDevice, .ambiguousMatch, .invalidResource:
                return DeviceError(.notReady, device: device, message: usbError.description,
                                   remedy: "see docs/real-bench.md (udev rule, usbtmc kernel driver, serial number in the bench file)")
            default:
                return DeviceError(.instrumentError, device: device, message: usbError.description, remedy: "device-clear or power-cycle the instrument")
            }
        case .stalled, .protocolViolation, .requestFailed, .responseTooLong:
            return DeviceError(.instrumentError, device: device, message: error.description + during,
                               remedy: "send the command again; power-cycle the instrument if it repeats")
        case .unsupported:
            return DeviceError(.invalidRequest, device: device, message: error.description + during, remedy: "use another way to reach the instrument")
        case let .scriptMismatch(text):
            return DeviceError(.instrumentError, device: device, message: "script mismatch\(during): \(text)", remedy: "fix the test script")
        case .connectionFailed:
            return DeviceError(.disconnected, device: device, message: error.description + during,
                               remedy: "check the address in the bench file (tcpip://HOST[:PORT]) and the instrument's LAN settings")
        }
    }

    static func from(_ error: GPIOError, device: String) -> DeviceError {
        switch error {
        case .lineBusy, .permissionDenied, .chipNotFound, .lineOutOfRange, .lineNameNotFound:
            return DeviceError(.notReady, device: device, message: error.description,
                               remedy: "fix the gpio:// address or free the line (gpioinfo shows the holder); docs/real-bench.md lists the gpio group setup")
        case .released, .ioFailed:
            return DeviceError(.disconnected, device: device, message: error.description, remedy: "open the bench again")
        case .openFailed, .requestFailed:
            return DeviceError(.instrumentError, device: device, message: error.description, remedy: "check the chip with gpiodetect and gpioinfo")
        }
    }

    private static func remedy(for entry: SCPIErrorEntry?) -> String {
        switch entry?.category {
        case .command?: return "the firmware does not know this command: check the model and firmware (*IDN?) against the driver's manual reference"
        case .execution?: return "the value or the instrument's present state does not allow it: check the instrument's ranges and front-panel settings"
        case .deviceSpecific?, .instrumentSpecific?: return "the instrument reports a hardware condition: read its front panel or manual for this code"
        case .query?: return "a reply was lost: device-clear the instrument and retry"
        default: return "check the instrument state and retry"
        }
    }

    /// A request the driver refuses before anything is sent.
    static func refused(_ device: String, _ message: String, remedy: String) -> DeviceError {
        DeviceError(.invalidRequest, device: device, message: message, remedy: remedy)
    }
}
