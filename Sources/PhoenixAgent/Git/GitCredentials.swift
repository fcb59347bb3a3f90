import Foundation
import PhoenixCore

/// How the agent proves itself to the repository. Secrets stay in files: the adapter passes only
/// their paths to git's helpers (the phoenix executable itself), which read them when git asks.
public enum GitCredentials: Sendable, Equatable {
    /// Nothing: an anonymous remote, a local path, or ssh as the user's own configuration allows.
    case none
    /// HTTPS with a token: `username` (not a secret) and the file holding the token, read again on
    /// every git call, so a rotated token is used at once.
    case token(file: String, username: String)
    /// SSH with a deploy key, checking the server against `knownHosts` only (nothing from the user's
    /// or the system's ssh configuration).
    case deployKey(key: String, knownHosts: String)
}

/// How commits are checked to be signed by an allowed signer (`git verify-commit`).
public enum SignatureCheck: Sendable, Equatable {
    /// SSH signatures, the signers listed in an allowed-signers file (`ssh-keygen -Y verify`'s format).
    case ssh(allowedSigners: String)
    /// OpenPGP signatures by a key in `publicKeys` (an armoured or binary export), imported once
    /// into a keyring of the adapter's own.
    case gpg(publicKeys: String)
}

/// What a repository URL is, as far as the adapter cares: whether it may carry the credentials
/// given, and never a secret of its own.
enum RepositoryURL {
    enum Transport: Equatable { case http, ssh, other }

    /// The URL's transport: `http(s)://`, `ssh://` or scp-like `user@host:path`, or anything else
    /// (a local path, `file://`, `git://`).
    static func transport(_ url: String) -> Transport {
        if let scheme = scheme(url) {
            switch scheme.lowercased() {
            case "http", "https": return .http
            case "ssh", "git+ssh", "ssh+git": return .ssh
            default: return .other
            }
        }
        // scp-like: a colon before any slash, and not a local path.
        if let colon = url.firstIndex(of: ":"), !url.hasPrefix("/"), !url[..<colon].contains("/") { return .ssh }
        return .other
    }

    static func scheme(_ url: String) -> String? {
        guard let range = url.range(of: "://") else { return nil }
        let scheme = url[..<range.lowerBound]
        guard let first = scheme.first, first.isLetter, scheme.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) else { return nil }
        return String(scheme)
    }

    /// Whether the URL's authority holds `user:secret@`.
    static func carriesSecret(_ url: String) -> Bool {
        guard let range = url.range(of: "://"), scheme(url) != nil else { return false }
        let rest = url[range.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard let at = authority.lastIndex(of: "@") else { return false }
        return authority[..<at].contains(":")
    }

    /// Refuses a URL that git could read as an option, that carries a secret, or that does not fit
    /// `credentials`. The errors never repeat the URL: it may hold the secret it is refused for.
    static func check(_ url: String, credentials: GitCredentials) throws(GitError) {
        func refuse(_ message: String) -> GitError { GitError(operation: "configure", reason: .failed, message: message) }
        if url.isEmpty || url.hasPrefix("-") || url.contains(where: { $0.isNewline || $0 == "\0" }) {
            throw refuse("the repository URL is empty, starts with '-' or holds a line break")
        }
        if carriesSecret(url) {
            throw refuse(
                "the repository URL holds a password or token in its user part (user:secret@); "
                    + "remove it from the URL and give the token in a token file (the secret is not repeated here)")
        }
        switch (credentials, transport(url)) {
        case (.token, let transport) where transport != .http:
            throw refuse("a token file is for an https:// or http:// repository URL; use a deploy key for ssh")
        case (.deployKey, let transport) where transport != .ssh:
            throw refuse("a deploy key is for an ssh:// or user@host:path repository URL; use a token file for https")
        default: break
        }
    }
}
