/// A failure of an SCPI exchange. Every case names the command that caused it.
public enum SCPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The instrument's error queue (SYST:ERR?) reported `errors` right after `command`.
    case instrument(command: String, errors: [SCPIErrorEntry], resource: String)
    /// A query got no reply within the timeout and the error queue explains why (e.g. -113
    /// Undefined header for a mistyped query).
    case queryRejected(command: String, errors: [SCPIErrorEntry], resource: String)
    /// The transport failed while sending `command` or reading its reply.
    case transport(command: String, error: TransportError)
    /// The reply did not have the expected form.
    case unexpectedResponse(command: String, response: String, expected: String, resource: String)
    /// The reply was not a valid IEEE 488.2 block.
    case malformedBlock(command: String, problem: IEEEBlockError, resource: String)
    /// SYST:ERR? kept returning errors; the queue did not empty within `limit` reads.
    case errorQueueNotDraining(command: String, errors: [SCPIErrorEntry], limit: Int, resource: String)
    /// The command text itself cannot be sent (empty, or it contains a line terminator).
    case invalidCommand(command: String, reason: String)

    public var description: String {
        switch self {
        case let .instrument(command, errors, resource):
            return "\(resource) rejected \"\(command)\": " + errors.map(\.description).joined(separator: "; ")
                + ". " + Self.advice(for: errors)
        case let .queryRejected(command, errors, resource):
            return "\(resource) did not answer \"\(command)\" and reported " + errors.map(\.description).joined(separator: "; ")
                + ". " + Self.advice(for: errors)
        case let .transport(command, error):
            return "\"\(command)\": \(error.description)"
        case let .unexpectedResponse(command, response, expected, resource):
            return "\(resource) answered \"\(command)\" with \(describeBytes(Array(response.utf8), limit: 80)), expected \(expected): check the command and the instrument's data format settings"
        case let .malformedBlock(command, problem, resource):
            return "\(resource) answered \"\(command)\" with a bad binary block: \(problem.description)"
        case let .errorQueueNotDraining(command, errors, limit, resource):
            return "\(resource) still reported errors after \(limit) reads of its error queue following \"\(command)\" (last: "
                + errors.suffix(3).map(\.description).joined(separator: "; ") + "): send *CLS, and check that the error query matches this instrument"
        case let .invalidCommand(command, reason):
            return "cannot send \(describeBytes(Array(command.utf8), limit: 80)): \(reason)"
        }
    }

    /// What to do about the first error, by SCPI error class.
    static func advice(for errors: [SCPIErrorEntry]) -> String {
        switch errors.first?.category {
        case .command?: return "Check the command spelling and syntax against the programming manual (short/long forms, suffixes, separators)."
        case .execution?: return "The command is valid but the value or the instrument state does not allow it: check ranges and settings."
        case .deviceSpecific?: return "The instrument reports an internal fault: check its display and self-test (*TST?)."
        case .query?: return "A reply was lost or interrupted: read every query's reply before sending the next command."
        default: return "See the instrument's programming manual for this code."
        }
    }

    /// The instrument error entries, if this is an instrument-side failure.
    public var instrumentErrors: [SCPIErrorEntry] {
        switch self {
        case let .instrument(_, errors, _), let .queryRejected(_, errors, _), let .errorQueueNotDraining(_, errors, _, _):
            return errors
        default:
            return []
        }
    }

    /// The command that caused the failure.
    public var command: String {
        switch self {
        case let .instrument(command, _, _), let .queryRejected(command, _, _), let .transport(command, _),
             let .unexpectedResponse(command, _, _, _), let .malformedBlock(command, _, _),
             let .errorQueueNotDraining(command, _, _, _), let .invalidCommand(command, _):
            return command
        }
    }
}
