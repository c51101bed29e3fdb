import Foundation

/// What the server station is told besides its configuration.
public struct ServerSettings: Sendable {
    /// Back-to-back reference shots per client shot, interleaved in every block and layer.
    public var referenceFraction = 0.3
    /// The secret basis: always `.secret` outside tests.
    public var basis: BasisPolicy = .secret
    /// Sees every burst of returned light the server measured through the client (its own data).
    public var returnedLightTap: (any ReturnedLightTap)?
    /// Who the client is, for the ledger: its certificate's SHA-256 over gRPC, or the name of
    /// the client in the same process.
    public var clientIdentity = ServerSettings.localClient
    /// The most weight leakage per weight symbol a client may accumulate over all its
    /// sessions (nil: unlimited, still recorded).
    public var lifetimeBudgetBitsPerSymbol: Double?

    /// The name the ledger gives a client in the same process (no certificate).
    public static let localClient = "local client (same process)"

    public init(referenceFraction: Double = 0.3, basis: BasisPolicy = .secret, returnedLightTap: (any ReturnedLightTap)? = nil,
                clientIdentity: String = ServerSettings.localClient, lifetimeBudgetBitsPerSymbol: Double? = nil) {
        self.referenceFraction = referenceFraction; self.basis = basis; self.returnedLightTap = returnedLightTap
        self.clientIdentity = clientIdentity; self.lifetimeBudgetBitsPerSymbol = lifetimeBudgetBitsPerSymbol
    }
}

/// What the client station is told besides the session's parameters.
public struct ClientSettings: Sendable {
    /// The most data leakage the client accepts, bit per symbol (Cramér–Rao form, PROTOCOL.md §5).
    public var dataLeakageBudgetBits = 0.01
    /// Where its images came from (kept in its records).
    public var dataDirectory = ""
    /// The twin behaviour of its optics (honest unless a test or a demonstration says otherwise).
    public var behaviour = "honest"

    public init(dataLeakageBudgetBits: Double = 0.01, dataDirectory: String = "", behaviour: String = "honest") {
        self.dataLeakageBudgetBits = dataLeakageBudgetBits; self.dataDirectory = dataDirectory; self.behaviour = behaviour
    }
}
