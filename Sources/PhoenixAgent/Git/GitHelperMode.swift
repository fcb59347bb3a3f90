import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The phoenix executable as git's helper: `GIT_ASKPASS` (answers git's username and password
/// prompts from a token file) and `GIT_SSH` (runs ssh with the deploy key and the pinned
/// known_hosts). `SystemGit` points both at the executable and passes only file paths in the
/// environment, so no secret is ever in a URL, an argv or an environment variable.
///
/// `main` calls `runIfAsked()` before anything else: when the variables below are set it answers
/// and exits (or becomes ssh), and ArgumentParser never runs.
public enum GitHelperMode {
    /// The token file's path: set, phoenix answers `Username for …` and `Password for …` prompts.
    public static let tokenFileVariable = "PHOENIX_GIT_ASKPASS_TOKEN_FILE"
    /// The username git is told (not a secret).
    public static let usernameVariable = "PHOENIX_GIT_ASKPASS_USERNAME"
    /// Set to `1`, phoenix runs as git's ssh.
    public static let sshVariable = "PHOENIX_GIT_SSH"
    /// The deploy key's path (with `sshVariable`).
    public static let sshKeyVariable = "PHOENIX_GIT_SSH_KEY"
    /// The pinned known_hosts file's path (with `sshVariable`).
    public static let knownHostsVariable = "PHOENIX_GIT_SSH_KNOWN_HOSTS"

    /// What the process is asked to do.
    public enum Action: Equatable, Sendable {
        /// Not a helper call: phoenix runs as usual.
        case none
        /// Print this line on stdout and exit 0 (an answer to git's prompt).
        case answer(String)
        /// Say this on stderr and exit 1 (git then fails with its own message).
        case fail(String)
        /// Replace the process with `path`, given `arguments` (argv, the program's name first).
        case exec(path: String, arguments: [String])
    }

    /// Answers git's prompt or runs ssh when phoenix was started as git's helper; returns otherwise.
    public static func runIfAsked() {
        switch action(arguments: CommandLine.arguments, environment: ProcessInfo.processInfo.environment) {
        case .none:
            return
        case .answer(let line):
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
            exit(0)
        case .fail(let message):
            FileHandle.standardError.write(Data(("phoenix (git helper): " + message + "\n").utf8))
            exit(1)
        case .exec(let path, let arguments):
            let pointers: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
            execv(path, pointers)
            let reason = String(cString: strerror(errno))
            FileHandle.standardError.write(Data("phoenix (git helper): cannot run \(path): \(reason)\n".utf8))
            // ssh's own status for "could not connect", which git reports as a failed connection.
            exit(255)
        }
    }

    /// What `arguments` and `environment` ask of the process (no side effect but reading the token file).
    public static func action(arguments: [String], environment: [String: String]) -> Action {
        // A prompt first: git's ssh is started with a host and a command, never with one of these.
        if let tokenFile = environment[tokenFileVariable], arguments.count == 2 {
            let prompt = arguments[1]
            if prompt.hasPrefix("Username for ") {
                guard let username = environment[usernameVariable], !username.isEmpty else { return .fail("no username was given for the token") }
                return .answer(username)
            }
            if prompt.hasPrefix("Password for ") {
                guard let token = readToken(tokenFile) else { return .fail("cannot read the token file \(tokenFile)") }
                return .answer(token)
            }
        }
        if environment[sshVariable] == "1" { return ssh(arguments: Array(arguments.dropFirst()), environment: environment) }
        return .none
    }

    /// The token in `path` without its trailing line break; nil when unreadable or empty.
    public static func readToken(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), var token = String(data: data, encoding: .utf8) else { return nil }
        while token.hasSuffix("\n") || token.hasSuffix("\r") { token.removeLast() }
        return token.isEmpty ? nil : token
    }

    /// ssh as git asks for it (`[-p port] [-o …] host command`), after phoenix's own options, which
    /// ssh takes first and so cannot be overridden by what git passes: batch mode (never a prompt)
    /// and, with a deploy key, only that key, only the pinned known_hosts, no ssh configuration file.
    static func ssh(arguments: [String], environment: [String: String]) -> Action {
        guard let ssh = program("ssh", path: environment["PATH"]) else { return .fail("ssh is not on PATH") }
        var argv = ["ssh", "-o", "BatchMode=yes"]
        if let key = environment[sshKeyVariable], let knownHosts = environment[knownHostsVariable] {
            argv += [
                "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-o", "UserKnownHostsFile=\(knownHosts)",
                "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
            ]
        }
        return .exec(path: ssh, arguments: argv + arguments)
    }

    /// `name` found on `path` (PATH's value), as an absolute path.
    static func program(_ name: String, path: String?) -> String? {
        for directory in (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }
}
