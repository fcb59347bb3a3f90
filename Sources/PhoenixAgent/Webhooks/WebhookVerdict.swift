/// A push to the watched branch, as a verified delivery tells it: only a reason to look now (the
/// agent fetches and decides from the repository itself).
public struct WebhookPush: Sendable, Equatable {
    public let provider: WebhookProvider
    /// The delivery id, when the server sent one (older GitLab versions do not).
    public let delivery: String?
    public let branch: String
    /// The commit the push moved the branch to, when the payload says.
    public let after: String?

    public init(provider: WebhookProvider, delivery: String?, branch: String, after: String?) {
        self.provider = provider
        self.delivery = delivery
        self.branch = branch
        self.after = after
    }
}

/// What the agent makes of a webhook request; the server maps it to a status code. No reason
/// quotes the secret or the signature received.
public enum WebhookVerdict: Sendable, Equatable {
    /// A verified push to the watched branch: 202 with the run id.
    case accepted(WebhookPush)
    /// Verified, but nothing to do (a ping, another event, another branch, a tag): 202 "ignored".
    case ignored(delivery: String?, reason: String)
    /// The signature or token is missing or wrong: 401.
    case unauthorized(reason: String)
    /// The body is over the limit, checked before any hashing: 413.
    case tooLarge(limit: Int)
    /// Verified, but the request cannot be read (no event header, a push that is not JSON): 400.
    case badRequest(reason: String)

    /// The HTTP status the server answers with (a repeated delivery, which the server finds in
    /// `RecentDeliveries`, is 200 instead of 202).
    public var status: Int {
        switch self {
        case .accepted, .ignored: return 202
        case .unauthorized: return 401
        case .tooLarge: return 413
        case .badRequest: return 400
        }
    }

    /// The short reason a response or log line gives.
    public var reason: String {
        switch self {
        case let .accepted(push): return "push to \(push.branch)"
        case let .ignored(_, reason), let .unauthorized(reason), let .badRequest(reason): return reason
        case let .tooLarge(limit): return "the payload is over \(limit) bytes"
        }
    }

    /// A one-word result for metrics (`phoenix_agent_webhooks_total{result}`).
    public var result: String {
        switch self {
        case .accepted: return "accepted"
        case .ignored: return "ignored"
        case .unauthorized: return "unauthorized"
        case .tooLarge: return "too_large"
        case .badRequest: return "bad_request"
        }
    }
}
