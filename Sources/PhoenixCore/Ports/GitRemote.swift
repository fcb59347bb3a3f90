/// The repository the agent watches, as the agent reaches it. The live adapter runs the system
/// `git` with argv arrays in a work directory of its own (PhoenixAgent's `SystemGit`); tests drive
/// it against a real repository on a real git server, or stand a fake in.
///
/// Credentials never pass through this port: the adapter reads them from files when git asks for
/// them, and no error, commit or path it returns holds one.
public protocol GitRemote: Sendable {
    /// The commit at the head of `branch` on the remote: one `git ls-remote`, one round trip.
    func head(branch: String) async throws(GitError) -> String
    /// A clean tree of exactly `commit` (fetched from `branch` when it is not here yet), in a
    /// directory of its own that nothing else writes. Earlier trees may be removed.
    func checkout(_ commit: String, branch: String) async throws(GitError) -> GitTree
    /// Checks that every commit after `from` up to `to` (only `to` when `from` is nil) is signed by
    /// an allowed signer; the first that is not is named in the error.
    func verifySignatures(from: String?, to: String) async throws(GitError)
}

/// One checked-out commit.
public struct GitTree: Sendable, Equatable {
    public let commit: String
    /// The tree's root directory.
    public let path: String
    /// The commit's subject line and author, for reports.
    public let subject: String
    public let author: String

    public init(commit: String, path: String, subject: String = "", author: String = "") {
        self.commit = commit
        self.path = path
        self.subject = subject
        self.author = author
    }
}

/// Why a git operation failed, in words an operator can act on: the operation, and what git said
/// with any credential removed.
public struct GitError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// The remote could not be reached or refused us (network, authentication, host key).
        case unreachable
        /// The branch or commit is not there.
        case notFound
        /// A commit is unsigned or signed by a key not allowed.
        case unsigned(commit: String)
        /// Anything else git reported.
        case failed
    }

    public let operation: String
    public let reason: Reason
    public let message: String

    public init(operation: String, reason: Reason, message: String) {
        self.operation = operation
        self.reason = reason
        self.message = message
    }

    public var description: String { "git \(operation): \(message)" }
}
