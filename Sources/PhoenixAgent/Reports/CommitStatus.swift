import Foundation
import PhoenixCore

/// The state phoenix gives a commit. Each provider spells them its own way (`providerState`).
public enum CommitState: String, Sendable, Hashable, CaseIterable {
    /// The run has started planning this commit.
    case pending
    /// The run converged the estate to this commit.
    case success
    /// The run failed: an invalid commit, a failed resource, a rollback.
    case failure
    /// The run could not finish for reasons not of the commit's making (interrupted).
    case error
    /// The run was abandoned for a newer commit.
    case canceled

    /// Whether this state ends a run.
    public var isFinal: Bool { self != .pending }
}

/// Which API `--status-api` names.
public enum CommitStatusProvider: String, Sendable, Hashable, CaseIterable {
    case github
    case gitea
    case gitlab
}

/// Why a `--status-api` URL cannot be used.
public enum CommitStatusAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAURL
    case unknownProvider(host: String)
    case invalidCommit

    public var description: String {
        switch self {
        case .notAURL: return "--status-api is not an http(s) URL"
        case let .unknownProvider(host):
            return """
                --status-api on \(host) names no known API: use https://api.github.com/repos/OWNER/REPO, \
                https://HOST/api/v3/repos/OWNER/REPO (GitHub Enterprise), https://HOST/api/v1/repos/OWNER/REPO (Gitea, Forgejo), \
                https://HOST/api/v4/projects/ID (GitLab), or prefix the URL with github+, gitea+ or gitlab+
                """
        case .invalidCommit: return "a commit status names a commit by its full id (40 or 64 hexadecimal digits)"
        }
    }
}

/// The repository API commit statuses are posted to (`--status-api`): the provider, inferred from
/// the path or given by a `github+`, `gitea+` or `gitlab+` prefix, and the repository's base URL.
public struct CommitStatusAPI: Sendable, Equatable, CustomStringConvertible {
    public let provider: CommitStatusProvider
    /// The repository's API URL, without a trailing slash.
    public let base: String

    public init(_ text: String) throws(CommitStatusAPIError) {
        var url = text.trimmingCharacters(in: .whitespaces)
        var given: CommitStatusProvider?
        if let plus = url.firstIndex(of: "+"), let provider = CommitStatusProvider(rawValue: String(url[..<plus])) {
            given = provider
            url = String(url[url.index(after: plus)...])
        }
        while url.hasSuffix("/") { url.removeLast() }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty, components.user == nil, components.password == nil
        else { throw .notAURL }
        guard let provider = given ?? Self.infer(host: host, path: components.percentEncodedPath) else { throw .unknownProvider(host: host) }
        self.provider = provider
        self.base = url
    }

    private static func infer(host: String, path: String) -> CommitStatusProvider? {
        let parts = path.split(separator: "/").map(String.init)
        if host.lowercased() == "api.github.com", parts.count == 3, parts[0] == "repos" { return .github }
        if parts.count == 5, parts[0] == "api", parts[2] == "repos" {
            if parts[1] == "v3" { return .github }
            if parts[1] == "v1" { return .gitea }
        }
        if parts.count == 4, parts[0] == "api", parts[1] == "v4", parts[2] == "projects" { return .gitlab }
        return nil
    }

    /// The kind and host only, as logs and `--check` show it.
    public var description: String { "\(provider.rawValue) (\(URLComponents(string: base)?.host ?? "?"))" }

    /// The provider's word for `state`.
    public func providerState(_ state: CommitState) -> String {
        switch (provider, state) {
        case (.gitlab, .failure), (.gitlab, .error): return "failed"
        case (.gitlab, .canceled): return "canceled"
        case (_, .canceled): return "error"
        default: return state.rawValue
        }
    }

    /// The request that sets `commit`'s status under `context`, as the provider documents it:
    /// `POST {base}/statuses/{sha}`, with GitHub's bearer token, Gitea's `token` scheme or GitLab's
    /// `PRIVATE-TOKEN` header. `description` is cut to 140 characters.
    public func request(
        commit: String, state: CommitState, context: String, description: String, targetURL: String?, token: String
    ) throws(CommitStatusAPIError) -> HTTPRequestMessage {
        guard commit.utf8.count == 40 || commit.utf8.count == 64, ConstantTime.bytes(hex: commit) != nil else { throw .invalidCommit }
        let text = Self.cut(description, to: 140)
        var members: [(key: String, value: JSONValue)] = [("state", .string(providerState(state)))]
        if let targetURL { members.append(("target_url", .string(targetURL))) }
        members.append(("description", .string(text)))
        members.append((provider == .gitlab ? "name" : "context", .string(context)))
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json"), ("User-Agent", "phoenix-agent")]
        switch provider {
        case .github:
            headers += [("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28"), ("Authorization", "Bearer \(token)")]
        case .gitea:
            headers += [("Accept", "application/json"), ("Authorization", "token \(token)")]
        case .gitlab:
            headers += [("Accept", "application/json"), ("PRIVATE-TOKEN", token)]
        }
        let body = JSONWriter(sortedKeys: false, pretty: false).string(.object(members))
        return HTTPRequestMessage(method: "POST", url: "\(base)/statuses/\(commit.lowercased())", headers: headers, body: Array(body.utf8))
    }

    /// `text` in at most `limit` characters, ending with … when cut.
    static func cut(_ text: String, to limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }
}
