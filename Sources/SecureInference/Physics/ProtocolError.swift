/// A bad argument to the protocol math: says which parameter, the value, and the domain.
public struct ProtocolDomainError: Error, CustomStringConvertible, Equatable {
    public let parameter: String
    public let value: Double
    public let expected: String

    public init(_ parameter: String, _ value: Double, expected: String) {
        self.parameter = parameter; self.value = value; self.expected = expected
    }

    public var description: String { "\(parameter) = \(value) is outside the physical domain: expected \(expected)" }
}

/// Throws when `condition` fails or `value` is NaN. The parameter's name is built only then: a
/// check run per weight of a layer would otherwise format a string per weight (`EncodedLayer` spent
/// 0.2 s of every session's preflight on it, on one core).
@inline(__always)
func require(_ condition: Bool, _ parameter: @autoclosure () -> String, _ value: Double, _ expected: String) throws(ProtocolDomainError) {
    if !condition || value.isNaN { throw ProtocolDomainError(parameter(), value, expected: expected) }
}
