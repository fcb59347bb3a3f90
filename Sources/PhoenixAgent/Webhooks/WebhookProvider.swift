/// The git servers whose push webhooks the agent accepts, one per path: `POST /hooks/github`,
/// `/hooks/gitea` (Gitea, Forgejo and Gogs) and `/hooks/gitlab`.
public enum WebhookProvider: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case github
    case gitea
    case gitlab

    /// The provider a path component names (`github`, `gitea`, `gitlab`), or nil.
    public init?(pathComponent: some StringProtocol) {
        self.init(rawValue: String(pathComponent))
    }

    public var description: String { rawValue }

    /// The headers that carry the signature (or GitLab's token), first found wins: Forgejo sends
    /// its own and Gitea's and Gogs' headers, Gitea sends its own and Gogs'.
    var signatureHeaders: [String] {
        switch self {
        case .github: return ["X-Hub-Signature-256"]
        case .gitea: return ["X-Forgejo-Signature", "X-Gitea-Signature", "X-Gogs-Signature"]
        case .gitlab: return ["X-Gitlab-Token"]
        }
    }

    /// The headers that name the event.
    var eventHeaders: [String] {
        switch self {
        case .github: return ["X-GitHub-Event"]
        case .gitea: return ["X-Forgejo-Event", "X-Gitea-Event", "X-Gogs-Event"]
        case .gitlab: return ["X-Gitlab-Event"]
        }
    }

    /// The headers that carry the delivery id, in order of preference.
    var deliveryHeaders: [String] {
        switch self {
        case .github: return ["X-GitHub-Delivery"]
        case .gitea: return ["X-Forgejo-Delivery", "X-Gitea-Delivery", "X-Gogs-Delivery"]
        case .gitlab: return ["X-Gitlab-Event-UUID", "Idempotency-Key", "X-Gitlab-Webhook-UUID"]
        }
    }

    /// Whether an event name is a push to a branch (a tag push is not: it never moves the branch).
    func isPush(event: String) -> Bool {
        switch self {
        case .github, .gitea: return event.lowercased() == "push"
        case .gitlab: return event == "Push Hook"
        }
    }
}
