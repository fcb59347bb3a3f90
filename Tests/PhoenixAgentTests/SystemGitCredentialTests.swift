import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixTesting
import Synchronization
import Testing

@Suite("Credentials: a URL with a secret refused, a token through askpass, a deploy key through ssh")
struct SystemGitCredentialTests {
    @Test(
        "a URL holding a password or token is refused without repeating it",
        arguments: ["https://deploy:s3cr3t-t0ken@git.example.net/estate.git", "ssh://git:s3cr3t-t0ken@git.example.net/estate.git"])
    func secretInURL(url: String) throws {
        let work = try TemporaryDirectory("phoenix-agent-work")
        do {
            _ = try makeGit(url, work: work)
            Issue.record("a URL with a secret was accepted")
        } catch let error as GitError {
            #expect(error.message.contains("token file"), "\(error)")
            #expect(!error.description.contains("s3cr3t"), "\(error)")
        }
    }

    @Test("credentials must fit the URL: a token for https, a deploy key for ssh; a user name alone is no secret")
    func credentialsFitTheURL() throws {
        let work = try TemporaryDirectory("phoenix-agent-work")
        #expect(throws: GitError.self) { try makeGit("ssh://git@host/estate.git", work: work, credentials: .token(file: "/t", username: "u")) }
        #expect(throws: GitError.self) { try makeGit("https://host/estate.git", work: work, credentials: .deployKey(key: "/k", knownHosts: "/h")) }
        #expect(throws: GitError.self) { try makeGit("--upload-pack=touch", work: work) }
        _ = try makeGit("git@host:estate.git", work: work, credentials: .deployKey(key: "/k", knownHosts: "/h"))
        _ = try makeGit("https://deploy@host/estate.git", work: work, credentials: .token(file: "/t", username: "deploy"))
    }

    @Test("git's prompts are answered from the environment's file paths; anything else is not a helper call")
    func helperActions() throws {
        let work = try TemporaryDirectory("phoenix-agent-helper")
        try work.write("token", "tok-123\n")
        let askpass = [GitHelperMode.tokenFileVariable: work.file("token"), GitHelperMode.usernameVariable: "deploy"]
        #expect(GitHelperMode.action(arguments: ["phoenix", "Username for 'https://h': "], environment: askpass) == .answer("deploy"))
        #expect(GitHelperMode.action(arguments: ["phoenix", "Password for 'https://deploy@h': "], environment: askpass) == .answer("tok-123"))
        #expect(GitHelperMode.action(arguments: ["phoenix", "sync", "all"], environment: [:]) == .none)
        #expect(GitHelperMode.action(arguments: ["phoenix", "Password for 'x': "], environment: [:]) == .none)
        let missing = [GitHelperMode.tokenFileVariable: work.file("absent"), GitHelperMode.usernameVariable: "deploy"]
        // As git runs it: with the ssh variable set too, a prompt is still a prompt.
        let both = askpass.merging([GitHelperMode.sshVariable: "1"]) { $1 }
        #expect(GitHelperMode.action(arguments: ["phoenix", "Password for 'https://deploy@h': "], environment: both) == .answer("tok-123"))
        guard case .fail = GitHelperMode.action(arguments: ["phoenix", "Password for 'x': "], environment: missing) else {
            Issue.record("an unreadable token file was answered")
            return
        }
        let ssh = GitHelperMode.action(
            arguments: ["phoenix", "-p", "22", "host", "git-upload-pack '/r.git'"],
            environment: [GitHelperMode.sshVariable: "1", GitHelperMode.sshKeyVariable: "/k", GitHelperMode.knownHostsVariable: "/kh", "PATH": "/usr/bin:/bin"])
        guard case .exec(let path, let argv) = ssh else {
            Issue.record("not ssh: \(ssh)")
            return
        }
        #expect(path.hasSuffix("/ssh"))
        #expect(argv.starts(with: ["ssh", "-o", "BatchMode=yes", "-F", "/dev/null", "-i", "/k", "-o", "IdentitiesOnly=yes"]))
        #expect(argv.contains("UserKnownHostsFile=/kh") && argv.contains("StrictHostKeyChecking=yes"))
        #expect(Array(argv.suffix(4)) == ["-p", "22", "host", "git-upload-pack '/r.git'"], "git's arguments last, as given")
    }

    @Test("the phoenix executable answers git's password prompt with the token file's contents, before any command is parsed")
    func helperExecutable() throws {
        let work = try TemporaryDirectory("phoenix-agent-helper")
        try work.write("token", "tok-456\n")
        let result = try Command.run(
            "/usr/bin/env",
            [
                "-i", "\(GitHelperMode.tokenFileVariable)=\(work.file("token"))", "\(GitHelperMode.usernameVariable)=deploy", phoenixExecutable,
                "Password for 'http://deploy@127.0.0.1': ",
            ])
        #expect(result.status == 0 && result.stdout == "tok-456\n", "\(result)")
    }

    @Test("with the token file git gets in; a wrong token is unreachable and said nowhere; a rotated token is used at once", .needs(.git, .gitHTTP))
    func token() async throws {
        let fixture = try GitFixture()
        let commit = try fixture.commit("first", files: ["etc/a.json": "{}\n"])
        let token = "tok-\(UUID().uuidString)"
        let server = try GitHTTPServer(fixture, username: "deploy", token: token)
        let work = try TemporaryDirectory("phoenix-agent-work")
        let wrong = "wrong-\(UUID().uuidString)"
        try work.write("token", wrong + "\n")
        let log = InvocationLog()
        let git = try makeGit(server.url, work: work, credentials: .token(file: work.file("token"), username: "deploy"), log: log)

        let refused = await gitError { _ = try await git.head(branch: "main") }
        #expect(refused?.reason == .unreachable, "\(String(describing: refused))")
        #expect(refused?.message.contains("Authentication failed") == true, "the server refused the token: \(String(describing: refused))")
        #expect(refused.map { !$0.description.contains(wrong) && !$0.description.contains(token) } == true, "\(String(describing: refused))")

        try work.write("token", token + "\n")
        // While git runs, no process on this machine has the token in its argv.
        let seen = Mutex<[pid_t]>([])
        let gitSeen = Mutex(false)
        let done = Mutex(false)
        let url = server.url
        let watcher = Thread {
            while !done.withLock({ $0 }) {
                let found = Processes.matching(token)
                if !found.isEmpty { seen.withLock { $0 += found } }
                if !Processes.matching(url).isEmpty { gitSeen.withLock { $0 = true } }
            }
        }
        watcher.start()
        let head = try await git.head(branch: "main")
        let tree = try await git.checkout(commit, branch: "main")
        done.withLock { $0 = true }
        #expect(head == commit)
        #expect(FileManager.default.fileExists(atPath: "\(tree.path)/etc/a.json"))
        #expect(seen.withLock { $0 }.isEmpty, "the token was in a process's argv")
        #expect(gitSeen.withLock { $0 }, "the watcher saw git run (it looked while it mattered)")
        #expect(log.subcommands.contains("fetch"))
        for call in log.all {
            #expect(!call.arguments.joined().contains(token) && !call.environment.values.joined().contains(token), "\(call)")
        }
        #expect(log.all.allSatisfy { $0.environment[GitHelperMode.tokenFileVariable] == work.file("token") })
    }

    @Test("a deploy key with a pinned known_hosts gets in over ssh; a host key not pinned is unreachable and says so", .needs(.git, .openSSH))
    func deployKey() async throws {
        let fixture = try GitFixture()
        let commit = try fixture.commit("first", files: ["etc/a.json": "{}\n"])
        let server = try GitSSHServer(fixture)
        let work = try TemporaryDirectory("phoenix-agent-work")
        let git = try makeGit(server.url, work: work, credentials: .deployKey(key: server.deployKey, knownHosts: server.knownHosts))
        #expect(try await git.head(branch: "main") == commit, "\(server.log)")
        let tree = try await git.checkout(commit, branch: "main")
        #expect(FileManager.default.fileExists(atPath: "\(tree.path)/etc/a.json"))

        let other = try TemporaryDirectory("phoenix-agent-work")
        let pinnedElsewhere = try makeGit(server.url, work: other, credentials: .deployKey(key: server.deployKey, knownHosts: server.wrongKnownHosts))
        let refused = await gitError { _ = try await pinnedElsewhere.head(branch: "main") }
        #expect(refused?.reason == .unreachable, "\(String(describing: refused))")
        #expect(refused?.message.contains("host key is not in the pinned known_hosts") == true, "\(String(describing: refused))")
        #expect(refused?.message.contains(server.wrongKnownHosts) == true, "\(String(describing: refused))")
    }
}

@Suite("What git says is redacted before it reaches an error")
struct GitRedactionTests {
    @Test("a URL's user part and the token file's contents never survive")
    func redaction() async throws {
        let work = try TemporaryDirectory("phoenix-agent-work")
        try work.write("token", "tok-789\n")
        // A local path that does not exist: git's own error names the URL given in the message.
        let git = try makeGit(work.file("absent.git"), work: work)
        let error = await gitError { _ = try await git.head(branch: "main") }
        #expect(error?.reason == .unreachable, "\(String(describing: error))")
        #expect(
            GitRedaction.redact("fatal: unable to access 'https://deploy:tok-789@h/x.git/': 403", tokenFile: work.file("token"))
                == "fatal: unable to access 'https://h/x.git/': 403")
        #expect(GitRedaction.redact("remote: bad token tok-789 given", tokenFile: work.file("token")) == "remote: bad token [REDACTED] given")
    }
}
