import Foundation
import PhoenixCore

/// The repository the agent watches, through the system `git` (argv arrays only) in a work
/// directory of the adapter's own — never an operator's checkout:
///
/// ```
/// <work>/repo.git          a bare repository: the branch's history, fetched when a commit is missing
/// <work>/trees/<commit>    clean trees of single commits, the newest few kept
/// <work>/gnupg             the keyring of `--verify-commits gpg`
/// ```
///
/// Credentials reach git only through files and the phoenix executable as its helper
/// (`GitHelperMode`); a URL holding a secret is refused, and what git says is redacted before it
/// reaches an error.
public struct SystemGit: GitRemote {
    /// What the adapter is given besides the URL and its directory.
    public struct Options: Sendable {
        public var credentials: GitCredentials
        /// How `verifySignatures` checks commits; nil: it refuses to (a configuration error).
        public var signatures: SignatureCheck?
        /// The executable git runs as its askpass and ssh helper: phoenix itself (`/proc/self/exe`,
        /// resolved at start) unless given.
        public var helper: String?
        /// The most any one git call may take, in seconds.
        public var timeout: TimeInterval
        /// How many checked-out trees are kept (the newest; at least one).
        public var keepTrees: Int
        /// The git program; nil: `git` on PATH.
        public var git: String?
        /// Told of every git call before it runs (tests count them).
        public var observer: (@Sendable (GitInvocation) -> Void)?

        public init(
            credentials: GitCredentials = .none, signatures: SignatureCheck? = nil, helper: String? = nil, timeout: TimeInterval = 120, keepTrees: Int = 3,
            git: String? = nil, observer: (@Sendable (GitInvocation) -> Void)? = nil
        ) {
            self.credentials = credentials
            self.signatures = signatures
            self.helper = helper
            self.timeout = timeout
            self.keepTrees = keepTrees
            self.git = git
            self.observer = observer
        }
    }

    public let url: String
    public let workDirectory: String
    let options: Options
    let runner: GitRunner

    var repository: String { "\(workDirectory)/repo.git" }
    var trees: String { "\(workDirectory)/trees" }

    /// Checks the URL against the credentials, creates the work directory and its bare repository
    /// when missing, and removes what an interrupted checkout left.
    public init(url: String, workDirectory: String, options: Options = Options()) throws(GitError) {
        try RepositoryURL.check(url, credentials: options.credentials)
        func refuse(_ message: String) -> GitError { GitError(operation: "configure", reason: .failed, message: message) }
        guard let git = options.git ?? GitHelperMode.program("git", path: ProcessInfo.processInfo.environment["PATH"]) else {
            throw refuse("git is not on PATH")
        }
        let helper = options.helper ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        guard let helper, FileManager.default.isExecutableFile(atPath: helper) else {
            throw refuse("the phoenix executable (git's askpass and ssh helper) was not found")
        }
        let work = URL(fileURLWithPath: workDirectory).standardizedFileURL.path
        self.url = url
        self.workDirectory = work
        self.options = options
        runner = GitRunner(
            git: git, workDirectory: work, credentials: options.credentials, helper: helper, timeout: options.timeout, observer: options.observer)
        do {
            try FileManager.default.createDirectory(atPath: "\(work)/trees", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw refuse("cannot create the work directory \(work): \(error.localizedDescription)")
        }
        try createRepository()
        removeStaging()
    }

    public func head(branch: String) async throws(GitError) -> String {
        try Self.checkBranch(branch, operation: "ls-remote")
        let ref = "refs/heads/\(branch)"
        let result = try await runner.runInRepository(["ls-remote", "--exit-code", url, ref], operation: "ls-remote")
        if result.status == 2 { throw GitError(operation: "ls-remote", reason: .notFound, message: "the remote has no branch \(branch)") }
        guard result.status == 0 else { throw runner.failure("ls-remote", result, network: true) }
        for line in result.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t")
            if fields.count == 2, fields[1] == ref, Self.isObjectName(fields[0]) { return String(fields[0]) }
        }
        throw GitError(operation: "ls-remote", reason: .notFound, message: "the remote has no branch \(branch)")
    }

    /// Creates `repo.git` (by a rename: an interrupted start leaves no half repository).
    func createRepository() throws(GitError) {
        guard !FileManager.default.fileExists(atPath: "\(repository)/HEAD") else { return }
        let staging = "\(workDirectory)/.staging-repo-\(UUID().uuidString)"
        let result = try runner.runBlocking(["init", "--bare", "--quiet", staging], operation: "init")
        guard result.status == 0 else { throw runner.failure("init", result, network: false) }
        try? FileManager.default.removeItem(atPath: repository)
        guard rename(staging, repository) == 0 else {
            throw GitError(operation: "init", reason: .failed, message: "cannot rename \(staging) to \(repository): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes what an interrupted checkout or prune left: staging directories, never final trees.
    func removeStaging() {
        for directory in [workDirectory, trees] {
            for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where entry.hasPrefix(".staging-") {
                try? FileManager.default.removeItem(atPath: "\(directory)/\(entry)")
            }
        }
    }

    /// A full object name (SHA-1 or SHA-256, lowercase hex): what the port's commits are, and never
    /// something git could read as an option.
    static func isObjectName<S: StringProtocol>(_ text: S) -> Bool {
        (text.count == 40 || text.count == 64) && text.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    static func checkCommit(_ commit: String, operation: String) throws(GitError) {
        guard isObjectName(commit) else { throw GitError(operation: operation, reason: .failed, message: "\(commit) is not a full commit id") }
    }

    /// A branch name git would accept as `refs/heads/<branch>` (`git check-ref-format`'s rules,
    /// checked here so that a name is never an option nor a pattern).
    static func checkBranch(_ branch: String, operation: String) throws(GitError) {
        let forbidden: Set<Character> = [" ", "~", "^", ":", "?", "*", "[", "\\", "\u{7f}"]
        let valid =
            !branch.isEmpty && !branch.hasPrefix("-") && !branch.hasPrefix("/") && !branch.hasSuffix("/") && !branch.hasSuffix(".")
            && !branch.hasSuffix(".lock") && !branch.contains("..") && !branch.contains("//") && !branch.contains("@{") && branch != "@"
            && !branch.contains { forbidden.contains($0) || $0.asciiValue.map { $0 < 0x20 } ?? false }
            && !branch.split(separator: "/").contains { $0.hasPrefix(".") }
        guard valid else { throw GitError(operation: operation, reason: .failed, message: "\"\(branch)\" is not a valid branch name") }
    }
}
