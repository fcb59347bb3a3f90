import Foundation
import PhoenixCore
import PhoenixEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A repository a test commits to (`work`) and the bare repository it pushes to (`served`, under
/// `root` as `estate.git`), which the test's git servers serve. Every git call here runs with the
/// test's own identity and no operator configuration.
public final class GitFixture: Sendable {
    public let directory: TemporaryDirectory
    public let git: String
    public var root: String { directory.file("repos") }
    public var served: String { directory.file("repos/estate.git") }
    public var work: String { directory.file("work") }

    public init() throws {
        directory = try TemporaryDirectory("phoenix-git")
        guard let git = TestPaths.program("git") else { throw WaitTimedOut(description: "git is not on PATH") }
        self.git = git
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try run(["init", "--quiet", "--bare", "--initial-branch=main", served])
        try run(["init", "--quiet", "--initial-branch=main", work])
        try run(["-C", work, "remote", "add", "origin", served])
    }

    /// Runs git with `arguments` (and `environment` added) in a clean environment; throws with git's
    /// words when it fails.
    @discardableResult
    public func run(_ arguments: [String], environment: [String: String] = [:]) throws -> String {
        var variables = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "HOME": directory.path, "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": "/dev/null", "LC_ALL": "C",
        ]
        variables.merge(environment) { $1 }
        let argv = ["/usr/bin/env", "-i"] + variables.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + [git] + arguments
        let result = try ProcessRunner.run(argv, timeout: 60)
        guard result.status == 0 else { throw WaitTimedOut(description: "git \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Writes `files`, removes `removing`, commits (signed with `signing` arguments such as
    /// `["-c", "gpg.format=ssh", "-c", "user.signingkey=KEY"]`, unsigned when nil), pushes to
    /// `branch`, and returns the commit.
    @discardableResult
    public func commit(
        _ message: String, files: [String: String] = [:], removing: [String] = [], branch: String = "main", signing: [String]? = nil,
        environment: [String: String] = [:]
    ) throws -> String {
        for (name, contents) in files { try directory.write("work/\(name)", contents) }
        for name in removing { try run(["-C", work, "rm", "--quiet", name]) }
        try run(["-C", work, "add", "--all"])
        let identity = ["-c", "user.name=Test Author", "-c", "user.email=author@example.net"]
        let sign = signing.map { $0 + ["commit", "-S"] } ?? ["-c", "commit.gpgsign=false", "commit"]
        try run(["-C", work] + identity + sign + ["--quiet", "--allow-empty", "-m", message], environment: environment)
        try run(["-C", work, "push", "--quiet", "--force", "origin", "HEAD:refs/heads/\(branch)"])
        return try run(["-C", work, "rev-parse", "HEAD"])
    }
}

/// `git daemon` serving a fixture's repositories anonymously (git://) on a free loopback port.
public final class GitDaemonServer: Sendable {
    public let port: Int
    private let server: RunningProcess

    /// `port`: a given one (a server started again where the agent looks), else a free one.
    public init(_ fixture: GitFixture, port given: Int? = nil) throws {
        let port = given ?? FreePort.allocate()
        self.port = port
        server = try RunningProcess(
            GitServers.daemon,
            [
                "--reuseaddr", "--listen=127.0.0.1", "--port=\(port)", "--export-all", "--informative-errors", "--base-path=\(fixture.root)", fixture.root,
            ], logFile: fixture.directory.file("git-daemon.log"))
        let server = self.server
        try waitFor("git daemon on port \(port)", detail: { server.log }) { Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 0.5) }
    }

    public var url: String { "git://127.0.0.1:\(port)/estate.git" }

    public func stop() { server.stop() }
}

/// git's smart HTTP backend through fcgiwrap behind nginx on a free loopback port, requiring HTTP
/// basic authentication with `username` and `token` (nginx's `{PLAIN}` password scheme: a test only).
public final class GitHTTPServer: Sendable {
    public let port = FreePort.allocate()
    private let nginx: RunningProcess
    private let fcgiwrap: RunningProcess

    public init(_ fixture: GitFixture, username: String, token: String) throws {
        let directory = try TemporaryDirectory("phoenix-git-http")
        guard let nginxPath = TestPaths.program("nginx"), let fcgiwrapPath = TestPaths.program("fcgiwrap") else {
            throw WaitTimedOut(description: "nginx or fcgiwrap is not on PATH")
        }
        let socket = directory.file("fcgiwrap.sock")
        let fcgiwrap = try RunningProcess(fcgiwrapPath, ["-s", "unix:\(socket)"], logFile: directory.file("fcgiwrap.log"))
        self.fcgiwrap = fcgiwrap
        try waitFor("fcgiwrap's socket", detail: { fcgiwrap.log }) { FileManager.default.fileExists(atPath: socket) }
        // One process (no -c: its preforked children would outlive a stop by pid); nginx's workers, which run as nobody, connect to it.
        chmod(socket, 0o666)
        try directory.write("htpasswd", "\(username):{PLAIN}\(token)\n")
        try directory.write(
            "nginx.conf",
            """
            daemon off;
            worker_processes 1;
            pid \(directory.file("nginx.pid"));
            error_log \(directory.file("error.log"));
            events { worker_connections 64; }
            http {
                access_log off;
                client_body_temp_path \(directory.file("body"));
                fastcgi_temp_path \(directory.file("fastcgi"));
                proxy_temp_path \(directory.file("proxy"));
                uwsgi_temp_path \(directory.file("uwsgi"));
                scgi_temp_path \(directory.file("scgi"));
                server {
                    listen 127.0.0.1:\(port);
                    location ~ ^/git(/.*)$ {
                        auth_basic "git";
                        auth_basic_user_file \(directory.file("htpasswd"));
                        client_max_body_size 0;
                        include /etc/nginx/fastcgi_params;
                        fastcgi_param SCRIPT_FILENAME \(GitServers.httpBackend);
                        fastcgi_param GIT_PROJECT_ROOT \(fixture.root);
                        fastcgi_param GIT_HTTP_EXPORT_ALL "";
                        fastcgi_param PATH_INFO $1;
                        fastcgi_param REMOTE_USER $remote_user;
                        fastcgi_pass unix:\(socket);
                    }
                }
            }
            """)
        let nginx = try RunningProcess(nginxPath, ["-c", directory.file("nginx.conf"), "-p", directory.path], logFile: directory.file("nginx.log"))
        self.nginx = nginx
        self.directory = directory
        let port = self.port
        try waitFor("nginx on port \(port)", detail: { nginx.log }) { Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 0.5) }
    }

    private let directory: TemporaryDirectory

    public var url: String { "http://127.0.0.1:\(port)/git/estate.git" }

    deinit {
        nginx.stop()
        fcgiwrap.stop()
    }
}

/// sshd on a free loopback port letting in one deploy key, with the git programs on its PATH.
public final class GitSSHServer: Sendable {
    public let port = FreePort.allocate()
    public let directory: TemporaryDirectory
    private let server: RunningProcess

    /// The deploy key (private) the adapter is given.
    public var deployKey: String { directory.file("deploy_key") }
    /// A known_hosts file pinning this server's host key.
    public var knownHosts: String { directory.file("known_hosts") }
    /// A known_hosts file pinning another key for the same address.
    public var wrongKnownHosts: String { directory.file("wrong_known_hosts") }

    public init(_ fixture: GitFixture) throws {
        directory = try TemporaryDirectory("phoenix-git-ssh")
        guard let keygen = TestPaths.program("ssh-keygen"), TestPaths.program("sshd") != nil else {
            throw WaitTimedOut(description: "OpenSSH is not on PATH")
        }
        for name in ["host_key", "deploy_key", "other_host_key"] {
            let made = try Command.run(keygen, ["-q", "-t", "ed25519", "-N", "", "-f", directory.file(name)])
            guard made.status == 0 else { throw WaitTimedOut(description: "ssh-keygen: \(made.stderr)") }
        }
        try FileManager.default.copyItem(atPath: directory.file("deploy_key.pub"), toPath: directory.file("authorized_keys"))
        chmod(directory.file("authorized_keys"), 0o600)
        let hostKey = try String(contentsOfFile: directory.file("host_key.pub"), encoding: .utf8)
        let otherKey = try String(contentsOfFile: directory.file("other_host_key.pub"), encoding: .utf8)
        try directory.write("known_hosts", "[127.0.0.1]:\(port) \(hostKey)")
        try directory.write("wrong_known_hosts", "[127.0.0.1]:\(port) \(otherKey)")
        let server = try LoopbackSSHD.start(port: port, directory: directory)
        self.server = server
        user = String(cString: getpwuid(getuid()).pointee.pw_name)
        self.fixture = fixture.served
        let port = self.port
        try waitFor("sshd on port \(port)", detail: { server.log }) { Probe.connects(to: IPv4Address("127.0.0.1")!, port: port, timeout: 0.5) }
    }

    private let user: String
    private let fixture: String

    public var url: String { "ssh://\(user)@127.0.0.1:\(port)\(fixture)" }

    public var log: String { server.log }

    deinit { server.stop() }
}
