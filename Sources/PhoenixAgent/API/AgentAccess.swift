import Foundation
import Synchronization

/// The agent's secrets as files name them: the webhook secret and the access tokens. SIGHUP
/// re-reads both; a file that no longer reads keeps the values read before (and says why).
public final class AgentAccess: Sendable {
    public let tokensFile: String?
    public let webhookSecretFile: String?
    public let branch: String
    private let current: Mutex<(tokens: AccessTokens?, verifier: WebhookVerifier?)>

    public init(tokensFile: String?, webhookSecretFile: String?, branch: String) throws {
        self.tokensFile = tokensFile
        self.webhookSecretFile = webhookSecretFile
        self.branch = branch
        current = Mutex((nil, nil))
        try reload()
    }

    /// Reads both files again; on an error nothing changes.
    public func reload() throws {
        let tokens = try tokensFile.map { path throws in try AccessTokens.load(path) }
        let verifier = try webhookSecretFile.map { path throws in WebhookVerifier(secret: try WebhookSecret.load(path), branch: branch) }
        current.withLock { $0 = (tokens, verifier) }
    }

    /// Who an `Authorization` header names (nil: nobody, or no tokens file).
    public func identity(authorization: String?) -> Identity? {
        current.withLock { $0.tokens }?.authorize(authorization: authorization)
    }

    /// Who a token belongs to (the dashboard's login form).
    public func identity(token: String) -> Identity? {
        current.withLock { $0.tokens }?.authorize(token: token)
    }

    /// Who the token with this SHA-256 belongs to now: nil once the tokens file no longer lists it
    /// (read again on SIGHUP).
    public func identity(digest: [UInt8]) -> Identity? {
        current.withLock { $0.tokens }?.authorize(digest: digest)
    }

    /// Nil when webhooks are off (no secret file): they are refused.
    public var verifier: WebhookVerifier? { current.withLock { $0.verifier } }
}
