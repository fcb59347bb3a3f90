import Foundation
import PhoenixEngine
import Synchronization

/// A real PostgreSQL server (Debian's `postgresql`) for one test: its own data directory under /tmp,
/// listening on a free port on 127.0.0.1 and on a socket in that directory, run as the unprivileged
/// `postgres` user (the server refuses root), stopped by its own pid when the value goes away.
///
/// `initdb` runs once per test process, into a template the servers copy (about 0.2 s instead of
/// 2 s each). The template holds the role `phoenix` with `password` and its database `phoenix`;
/// the superuser `postgres` connects over the socket without a password.
public final class PostgresServer: Sendable {
    public let directory: TemporaryDirectory
    public let port = FreePort.allocate()
    /// The role phoenix connects as and its password (the same for every server of this process).
    public let user = "phoenix"
    public var password: String { Self.template.password }
    private let process = Mutex<RunningProcess?>(nil)
    private let settings: [String]

    /// The server's own TLS certificate and key (PEM files), for `sslmode` tests.
    public struct TLS: Sendable {
        public let certificate: String
        public let key: String

        public init(certificate: String, key: String) {
            self.certificate = certificate
            self.key = key
        }
    }

    public static let component = Component("PostgreSQL (Debian's postgresql: initdb, postgres, psql, the postgres user) and setpriv") {
        if binaries == nil { return "no /usr/lib/postgresql/*/bin with initdb, postgres, pg_isready and psql (Debian's postgresql)" }
        if getpwnam("postgres") == nil { return "there is no postgres user (Debian's postgresql creates it)" }
        return TestPaths.program("setpriv") == nil ? "setpriv is not on PATH (util-linux)" : nil
    }

    /// Debian's server binaries, the newest version installed.
    static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        return versions.map { "\(root)/\($0)/bin" }.first { bin in
            ["initdb", "postgres", "pg_isready", "psql"].allSatisfy { FileManager.default.isExecutableFile(atPath: "\(bin)/\($0)") }
        }
    }()

    /// Copies the template and starts a server on it; `tls` turns TLS on with that certificate.
    public init(tls: TLS? = nil) throws {
        let template = try Self.template.get()
        directory = try TemporaryDirectory("phoenix-postgres")
        try Command.run("/bin/cp", ["-a", template.data, directory.file("data")])
        var settings = ["-c", "listen_addresses=127.0.0.1", "-c", "port=\(port)", "-c", "unix_socket_directories=\(directory.path)"]
        if let tls {
            // The server reads its key only when the postgres user owns it and no one else can.
            for (source, name) in [(tls.certificate, "server.crt"), (tls.key, "server.key")] {
                try Command.run("/usr/bin/install", ["-o", "postgres", "-g", "postgres", "-m", "0600", source, directory.file("data/\(name)")])
            }
            settings += ["-c", "ssl=on", "-c", "ssl_cert_file=server.crt", "-c", "ssl_key_file=server.key"]
        }
        self.settings = settings
        try Self.chownToPostgres(directory.path)
        try start()
    }

    /// The server's libpq URL for `database` as `phoenix` (no password: it comes from elsewhere).
    public func url(database: String = "phoenix", sslmode: String = "disable", rootCertificate: String? = nil) -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)?sslmode=\(sslmode)" + (rootCertificate.map { "&sslrootcert=\($0)" } ?? "")
    }

    public var isRunning: Bool { process.withLock { $0?.isRunning ?? false } }

    public var log: String { (try? String(contentsOfFile: directory.file("postgres.log"), encoding: .utf8)) ?? "" }

    /// Starts the server (again, after `stop()`); returns once it accepts connections.
    public func start() throws {
        let bin = Self.binaries!
        let server = try RunningProcess(
            "/usr/bin/setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "\(bin)/postgres", "-D", directory.file("data")] + settings,
            logFile: directory.file("postgres.log"))
        process.withLock { $0 = server }
        let ready = waitUntil(timeout: 30, interval: 0.05) {
            guard server.isRunning else { return true }
            return (try? Command.run("\(bin)/pg_isready", ["-q", "-h", directory.path, "-p", "\(port)"], timeout: 5).status) == 0
        }
        guard ready, server.isRunning else { throw PostgresServerError(reason: "postgres did not start: \(log)") }
    }

    /// A fast shutdown (SIGINT: sessions are ended, nothing is left running), as an operator's
    /// `pg_ctl stop -m fast`.
    public func stop() {
        guard let server = process.withLock({ $0 }) else { return }
        server.signal(SIGINT)
        _ = waitUntil(timeout: 15) { !server.isRunning }
        server.stop()
    }

    /// Runs `sql` as the superuser over the socket; its output, unaligned and without headers.
    @discardableResult
    public func psql(_ sql: String, database: String = "phoenix") throws -> String {
        let result = try Command.run(
            "/usr/bin/setpriv",
            [
                "--reuid=postgres", "--regid=postgres", "--init-groups", "\(Self.binaries!)/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", directory.path, "-p", "\(port)", "-U", "postgres", "-d", database, "-c", sql,
            ])
        guard result.status == 0 else { throw PostgresServerError(reason: "psql: \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { stop() }

    // MARK: The template

    /// initdb once per process: the cluster, the role `phoenix` with a password, its database.
    struct Template: Sendable {
        let password: String
        let made: Result<TemporaryDirectory, PostgresServerError>

        func get() throws(PostgresServerError) -> (directory: TemporaryDirectory, data: String) {
            let directory = try made.get()
            return (directory, directory.file("data"))
        }
    }

    private static let templatePath = Mutex<String?>(nil)

    static let template: Template = {
        var generator = SystemRandomNumberGenerator()
        let password = (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        let made = Result { try makeTemplate(password: password) }.mapError { $0 as? PostgresServerError ?? PostgresServerError(reason: "\($0)") }
        return Template(password: password, made: made)
    }()

    private static func makeTemplate(password: String) throws -> TemporaryDirectory {
        guard let bin = binaries else { throw PostgresServerError(reason: "PostgreSQL is not installed") }
        let directory = try TemporaryDirectory("phoenix-postgres-template")
        // A static outlives every test: the process removes it as it exits.
        templatePath.withLock { $0 = directory.path }
        atexit { PostgresServer.templatePath.withLock { path in path.map { try? FileManager.default.removeItem(atPath: $0) } } }
        try chownToPostgres(directory.path)
        let asPostgres = ["--reuid=postgres", "--regid=postgres", "--init-groups"]
        let initdb = try Command.run(
            "/usr/bin/setpriv",
            asPostgres + [
                "\(bin)/initdb", "-D", directory.file("data"), "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                "--no-sync", "--no-instructions",
            ], timeout: 120)
        guard initdb.status == 0 else { throw PostgresServerError(reason: "initdb: \(initdb.stderr)") }
        // The role and its database, in single-user mode (no server, no port; with -j a statement
        // ends at a semicolon followed by an empty line).
        let setup = try ProcessRunner.run(
            ["/usr/bin/setpriv"] + asPostgres + ["\(bin)/postgres", "--single", "-D", directory.file("data"), "-j", "postgres"],
            input: Array("CREATE ROLE phoenix LOGIN PASSWORD '\(password)';\n\nCREATE DATABASE phoenix OWNER phoenix;\n\n".utf8))
        guard setup.status == 0 else { throw PostgresServerError(reason: "creating the role: \(setup.stderr)") }
        return directory
    }

    private static func chownToPostgres(_ path: String) throws {
        let result = try Command.run("/bin/chown", ["-R", "postgres:postgres", path])
        guard result.status == 0 else { throw PostgresServerError(reason: "chown \(path): \(result.stderr)") }
    }
}

public struct PostgresServerError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "PostgreSQL test server: \(reason)" }
}

extension Component {
    /// Debian's PostgreSQL server, which `PostgresServer` starts.
    public static var postgres: Component { PostgresServer.component }
}
