import Foundation
import PhoenixCore
import PhoenixEngine

/// One git call as the adapter made it: git's arguments and the environment it ran with (the only
/// variables it had). Tests count and inspect these; nothing in them is a secret.
public struct GitInvocation: Sendable, Equatable {
    public let arguments: [String]
    public let environment: [String: String]
}

/// Runs the system git with argv arrays, a timeout on every call and an environment of phoenix's
/// own: no operator configuration (system, global, XDG), no terminal prompt, the C locale, only the
/// protocols a repository URL may use, and phoenix itself as git's ssh and askpass helper.
struct GitRunner: Sendable {
    let git: String
    let workDirectory: String
    let credentials: GitCredentials
    let helper: String
    let timeout: TimeInterval
    let observer: (@Sendable (GitInvocation) -> Void)?

    /// The environment of every call. `env -i` starts git with exactly these variables (ProcessRunner
    /// passes phoenix's own environment on; this hop replaces it instead of adding to it).
    func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var variables = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin",
            "HOME": workDirectory,
            "LC_ALL": "C",
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null",
            "GIT_TERMINAL_PROMPT": "0",
            // ext:: and fd:: run programs: a repository URL may only be one of these.
            "GIT_ALLOW_PROTOCOL": "https:http:ssh:git:file",
            "GIT_SSH": helper,
            // git would otherwise guess ssh's flavour from the helper's name by running it with -G.
            "GIT_SSH_VARIANT": "ssh",
            GitHelperMode.sshVariable: "1",
        ]
        switch credentials {
        case .none:
            break
        case .token(let file, let username):
            variables["GIT_ASKPASS"] = helper
            variables[GitHelperMode.tokenFileVariable] = file
            variables[GitHelperMode.usernameVariable] = username
        case .deployKey(let key, let knownHosts):
            variables[GitHelperMode.sshKeyVariable] = key
            variables[GitHelperMode.knownHostsVariable] = knownHosts
        }
        variables.merge(extra) { $1 }
        return variables
    }

    /// Runs `git arguments…`; the result whatever git's status (a timeout is status 124).
    func run(
        _ arguments: [String], environment extra: [String: String] = [:], program: String? = nil, operation: String
    ) async throws(GitError) -> CommandResult {
        do {
            return try await ProcessRunner.run(command(arguments, environment: extra, program: program), timeout: timeout)
        } catch {
            throw GitError(operation: operation, reason: .failed, message: redact(error.description))
        }
    }

    /// The same, holding the calling thread (for the adapter's start, which is not async).
    func runBlocking(_ arguments: [String], operation: String) throws(GitError) -> CommandResult {
        do {
            return try ProcessRunner.run(command(arguments), timeout: timeout)
        } catch {
            throw GitError(operation: operation, reason: .failed, message: redact(error.description))
        }
    }

    /// The argv of one call, told to the observer: `env -i VARIABLE=value… git arguments…` (or
    /// another program than git, in the same environment).
    func command(_ arguments: [String], environment extra: [String: String] = [:], program: String? = nil) -> [String] {
        let variables = environment(extra)
        if program == nil { observer?(GitInvocation(arguments: arguments, environment: variables)) }
        return ["/usr/bin/env", "-i"] + variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [program ?? git] + arguments
    }

    /// Runs `git arguments…` in the adapter's own repository.
    func runInRepository(_ arguments: [String], environment: [String: String] = [:], operation: String) async throws(GitError) -> CommandResult {
        try await run(["--git-dir=\(workDirectory)/repo.git"] + arguments, environment: environment, operation: operation)
    }

    /// The error for a failed call, reason read from git's status and words; `network` for calls
    /// that reach the remote (ls-remote, fetch), whose failures are the remote's.
    func failure(_ operation: String, _ result: CommandResult, network: Bool) -> GitError {
        let said = redact(Self.excerpt(result.stderr.isEmpty ? result.stdout : result.stderr))
        if result.status == 124 {
            return GitError(operation: operation, reason: network ? .unreachable : .failed, message: "git did not finish within \(Int(timeout)) s")
        }
        if said.contains("Host key verification failed") || said.contains("host key is known for") || said.contains("HOST IDENTIFICATION HAS CHANGED") {
            var message = "the server's host key is not in the pinned known_hosts"
            if case .deployKey(_, let knownHosts) = credentials { message += " (\(knownHosts))" }
            return GitError(operation: operation, reason: .unreachable, message: message + "; ssh said: \(said)")
        }
        if network && said.contains("couldn't find remote ref") { return GitError(operation: operation, reason: .notFound, message: said) }
        return GitError(
            operation: operation, reason: network ? .unreachable : .failed, message: said.isEmpty ? "git exited with status \(result.status)" : said)
    }

    func redact(_ text: String) -> String {
        guard case .token(let file, _) = credentials else { return GitRedaction.redact(text, tokenFile: nil) }
        return GitRedaction.redact(text, tokenFile: file)
    }

    /// The last lines of git's words, trimmed: enough to act on, never a whole transcript.
    static func excerpt(_ text: String) -> String {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let kept = lines.suffix(6).joined(separator: "\n")
        return kept.count > 2000 ? String(kept.suffix(2000)) : kept
    }
}
