import Foundation
import PhoenixCore
import PhoenixPostgres
import PhoenixState
import PhoenixTesting
import Testing

/// A SyncLab whose commands keep their state in a real PostgreSQL the test starts (PhoenixTesting's
/// `PostgresServer`: Debian's server, its own data directory, a free loopback port), signing in with
/// a password file.
final class PostgresLab {
    let lab: SyncLab
    let server: PostgresServer
    let passwordFile: String

    /// `tlsFromLab`: the server presents the lab's certificate (for 127.0.0.1, from the lab's CA).
    init(traefik: Bool = false, tlsFromLab: Bool = false, tls: PostgresServer.TLS? = nil) throws {
        lab = try SyncLab.make(traefik: traefik)
        server = try PostgresServer(tls: tls ?? (tlsFromLab ? PostgresServer.TLS(certificate: lab.certificates.cert, key: lab.certificates.key) : nil))
        passwordFile = lab.directory.file("pg.pass")
        FileManager.default.createFile(atPath: passwordFile, contents: Data((server.password + "\n").utf8), attributes: [.posixPermissions: 0o600])
        lab.stateArguments = ["--state", server.url(), "--state-password-file", passwordFile]
    }

    /// A store of the lab's database in this process: another operator.
    func store() async throws -> PostgresStateStore {
        let location = try PostgresLocation(parsing: server.url(), defaultUser: "phoenix")
        let password = try PostgresPassword.find(for: location, passwordFile: passwordFile, environment: [:]) { path in
            FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
        }
        return try #require(try await PostgresStateStore.open(location, password: password))
    }

    /// `phoenix sync dns` started in the background, held at its dns records before they change
    /// (a `hold` failpoint) for as long as the hold file exists.
    func heldSync(hold: String, extra: [String] = []) throws -> RunningProcess {
        FileManager.default.createFile(atPath: hold, contents: Data("held\n".utf8))
        let argv = try lab.phoenixArgv(
            ["sync", "dns"] + extra, environment: ["PHOENIX_FAILPOINT": "dns:records:before:hold", "PHOENIX_FAILPOINT_HOLD": hold])
        return try RunningProcess(argv[0], Array(argv.dropFirst()), logFile: lab.directory.file("held-\(UUID().uuidString).log"))
    }

    /// Waits until the lock is held (`phoenix state lock` exits 2) and the held run has written
    /// its intent for the dns records.
    func waitUntilHeld(_ process: RunningProcess) async throws {
        let held = await eventually(timeout: 60, interval: 0.2) {
            guard process.isRunning else { return true }
            let intent = try? server.psql("SELECT count(*) FROM phoenix.journal WHERE resource = 'dns:records' AND phase = 'intent'")
            return (try? lab.phoenix(["state", "lock"]).status) == 2 && (intent.flatMap(Int.init) ?? 0) > 0
        }
        try #require(held && process.isRunning, "the held sync never reached its hold: \(process.log)")
    }
}

@Suite("Team state on PostgreSQL, with the lab's real servers", .serialized, .needs(.syncLab, .postgres))
struct PostgresSyncTests {
    @Test("sync all, its no-op and drift keep their state in PostgreSQL; a no-op makes at most 6 round trips to it", .needs(.traefik))
    func syncNoOpAndDrift() throws {
        let pg = try PostgresLab(traefik: true)
        let lab = pg.lab
        let first = try lab.phoenix(["sync", "all"])
        #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
        #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!])
        #expect(!FileManager.default.fileExists(atPath: lab.state), "no SQLite file is made beside the lab")

        let files = lab.treeChecksumExcludingState()
        let second = try lab.phoenix(["sync", "all", "--stats"])
        #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
        #expect(second.stdout.contains("No changes: nothing written, nothing reloaded"), "\(second.stdout)")
        #expect(lab.treeChecksumExcludingState() == files)
        let roundTrips = try #require(Self.stateRoundTrips(second.stderr), "\(second.stderr)")
        #expect(roundTrips <= 6, "a no-op's statements to PostgreSQL: \(second.stderr)")

        #expect(try pg.server.psql("SELECT string_agg(outcome, ',' ORDER BY id) FROM phoenix.runs") == "succeeded,no changes")
        let history = try lab.phoenix(["history"])
        #expect(history.stdout.contains("no changes") && history.stdout.contains("sync all"), "\(history.stdout)")

        // A hand edit is drift, found against what PostgreSQL recorded; sync repairs it.
        try "# edited by hand\n".write(toFile: lab.recordsFile, atomically: true, encoding: .utf8)
        let drift = try lab.phoenix(["drift"])
        #expect(drift.status == 2, "\(drift.stdout)\(drift.stderr)")
        #expect(drift.stdout.contains("dns:records"), "\(drift.stdout)")
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        #expect(try lab.phoenix(["drift"]).status == 0)
    }

    @Test("a second writer is refused naming the first (its user, run and command), then waits for it with --lock-timeout")
    func twoWriters() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        // The first writer: another process on another host, as an operator's phoenix would be.
        let alice = try await pg.store()
        let (run, _) = try await alice.beginRun(command: "sync all", user: "alice", host: "laptop", pid: 4242)

        let refused = try lab.phoenix(["sync", "dns"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("another sync holds the lock: run \(run) (sync all) of alice on laptop, pid 4242"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: lab.recordsFile), "the refused run changed nothing")
        let lock = try lab.phoenix(["state", "lock", "--format", "json"])
        #expect(lock.status == 2, "held: exit 2")
        let holder = try JSONSerialization.jsonObject(with: Data(lock.stdout.utf8)) as? [String: Any]
        #expect(holder?["held"] as? Bool == true)
        #expect((holder?["holder"] as? [String: Any])?["user"] as? String == "alice", "\(lock.stdout)")
        #expect((holder?["holder"] as? [String: Any])?["run"] as? Int == Int(run), "\(lock.stdout)")

        let argv = try lab.phoenixArgv(["sync", "dns", "--lock-timeout", "2m"])
        let waiting = try RunningProcess(argv[0], Array(argv.dropFirst()), logFile: lab.directory.file("waiting.log"))
        let named = await eventually(timeout: 60, interval: 0.1) { waiting.log.contains("waiting for the lock: run \(run) (sync all) of alice on laptop") }
        #expect(named, "while it waits, a line names the holder: \(waiting.log)")
        #expect(waiting.isRunning && !FileManager.default.fileExists(atPath: lab.recordsFile), "it waits without changing anything: \(waiting.log)")
        try await alice.finishRun(run, outcome: .succeeded, summary: "")
        let finished = await eventually(timeout: 60, interval: 0.1) { !waiting.isRunning }
        #expect(finished && waiting.status == 0, "\(waiting.log)")
        #expect(FileManager.default.fileExists(atPath: lab.recordsFile), "the second writer converged once the first was done")
        #expect(try lab.phoenix(["state", "lock"]).status == 0, "free again: exit 0")
        await alice.close()
    }

    @Test("SIGKILL of the holder: PostgreSQL releases the lock with its session; the next run reports the run interrupted and finishes it")
    func holderKilled() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        let holding = try TemporaryDirectory("phoenix-pg-hold")
        let holder = try pg.heldSync(hold: holding.file("hold"))
        try await pg.waitUntilHeld(holder)
        holder.signal(SIGKILL)
        #expect(await eventually(timeout: 10) { !holder.isRunning })
        let free = await eventually(timeout: 10, interval: 0.1) { (try? lab.phoenix(["state", "lock"]).status) == 0 }
        #expect(free, "the lock went with the holder's session")

        let next = try lab.phoenix(["sync", "dns"])
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        #expect(next.stdout.contains("was interrupted; this run finishes its work"), "\(next.stdout)")
        #expect(lab.resolve("grafana.lab.example.net") == [IPv4Address("127.0.0.1")!], "the interrupted change is served")
        #expect(try pg.server.psql("SELECT outcome FROM phoenix.runs ORDER BY id LIMIT 1") == "interrupted")
    }

    @Test("state unlock --force ends the holder's session: the holder stops with exit 1 at its next resource, the break is recorded, the next run resumes")
    func unlockForce() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        let holding = try TemporaryDirectory("phoenix-pg-hold")
        let holder = try pg.heldSync(hold: holding.file("hold"))
        try await pg.waitUntilHeld(holder)

        #expect(try lab.phoenix(["state", "unlock"]).status == 64, "--force is required")
        let before = try lab.phoenix(["state", "lock"]).stdout + (try pg.server.psql("SELECT pid, granted FROM pg_locks WHERE locktype = 'advisory'"))
        let unlock = try lab.phoenix(["state", "unlock", "--force"])
        #expect(unlock.status == 0, "\(unlock.stdout)\(unlock.stderr)")
        #expect(unlock.stdout.contains("broke the lock of run 1 (sync dns)"), "\(unlock.stdout) (before: \(before); holder: \(holder.log))")
        // The holder goes on to its next write, which its ended session refuses: it stops there.
        try FileManager.default.removeItem(atPath: holding.file("hold"))
        let stopped = await eventually(timeout: 30, interval: 0.1) { !holder.isRunning }
        #expect(stopped && holder.status == 1, "the holder exits 1: \(holder.log) (unlock said: \(unlock.stdout))")
        #expect(holder.log.contains("lost the sync lock"), "\(holder.log)")
        #expect(!FileManager.default.fileExists(atPath: lab.recordsFile), "the holder changed nothing once its lock was broken")
        #expect(
            try pg.server.psql("SELECT count(*) FROM phoenix.journal WHERE run_id = 1 AND phase = 'verified'") == "0",
            "nothing of the broken run is recorded as done after its lock was broken")

        let lock = try lab.phoenix(["state", "lock", "--format", "json"])
        #expect(lock.status == 0, "free: \(lock.stdout)")
        let report = try JSONSerialization.jsonObject(with: Data(lock.stdout.utf8)) as? [String: Any]
        let lastBreak = report?["last_break"] as? [String: Any]
        #expect((lastBreak?["by"] as? String)?.hasSuffix("@\(ProcessInfo.processInfo.hostName)") == true, "\(lock.stdout)")
        #expect(lastBreak?["run"] as? Int == 1)

        let next = try lab.phoenix(["sync", "dns"])
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        #expect(next.stdout.contains("was interrupted (its lock was broken by"), "\(next.stdout)")
        let drift = try lab.phoenix(["drift", "dns"])
        #expect(drift.status == 0, "the next run finished what the broken one began: \(drift.stdout)\(drift.stderr)")
    }

    @Test(
        "PostgreSQL stopped mid-run: the run stops at its next resource with a clear error, nothing unverified is recorded; once back, the next run converges")
    func databaseGoesAway() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        let holding = try TemporaryDirectory("phoenix-pg-hold")
        let holder = try pg.heldSync(hold: holding.file("hold"))
        try await pg.waitUntilHeld(holder)
        pg.server.stop()
        try FileManager.default.removeItem(atPath: holding.file("hold"))
        let stopped = await eventually(timeout: 30, interval: 0.1) { !holder.isRunning }
        #expect(stopped && holder.status == 1, "\(holder.log)")
        #expect(holder.log.contains("lost the sync lock") || holder.log.contains("cannot be used"), "a clear error: \(holder.log)")
        #expect(!holder.log.contains(pg.server.password), "the password is in no error")
        #expect(!FileManager.default.fileExists(atPath: lab.recordsFile), "the run changed nothing once its state store was gone")

        // Unreachable at the start: no change at all.
        let files = lab.treeChecksumExcludingState()
        let refused = try lab.phoenix(["sync", "dns"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the state store postgres://phoenix@127.0.0.1:\(pg.server.port)/phoenix"), "\(refused.stderr)")
        #expect(lab.treeChecksumExcludingState() == files, "nothing changed without the state store")

        try pg.server.start()
        #expect(try pg.server.psql("SELECT count(*) FROM phoenix.journal WHERE run_id = 1 AND phase = 'verified'") == "0")
        let next = try lab.phoenix(["sync", "dns"])
        #expect(next.status == 0, "\(next.stdout)\(next.stderr)")
        #expect(next.stdout.contains("was interrupted"), "\(next.stdout)")
        #expect(try lab.phoenix(["drift", "dns"]).status == 0)
    }

    @Test("the password is nowhere: not in argv (/proc/PID/cmdline), output, errors or the database's runs")
    func passwordNowhere() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        let password = pg.server.password
        let holding = try TemporaryDirectory("phoenix-pg-hold")
        let holder = try pg.heldSync(hold: holding.file("hold"))
        try await pg.waitUntilHeld(holder)
        let cmdline = try String(decoding: Data(contentsOf: URL(fileURLWithPath: "/proc/\(holder.pid)/cmdline")), as: UTF8.self)
        #expect(cmdline.contains("--state-password-file"), "the process is phoenix, with the file's name")
        #expect(!cmdline.contains(password))
        try FileManager.default.removeItem(atPath: holding.file("hold"))
        #expect(await eventually(timeout: 60) { !holder.isRunning })
        #expect(holder.status == 0, "\(holder.log)")
        #expect(!holder.log.contains(password))

        let outputs = try [["history"], ["state", "lock", "--format", "json"], ["sync", "dns", "--stats"]].map { try lab.phoenix($0) }
        for output in outputs { #expect(!(output.stdout + output.stderr).contains(password)) }
        // A wrong password is refused without echoing it or the right one.
        try "not-the-password\n".write(toFile: pg.passwordFile, atomically: true, encoding: .utf8)
        let wrong = try lab.phoenix(["sync", "dns"])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("password authentication failed"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("not-the-password") && !wrong.stderr.contains(password))
        // A password in the URL is refused, and not echoed.
        lab.stateArguments = ["--state", "postgres://phoenix:\(password)@127.0.0.1:\(pg.server.port)/phoenix?sslmode=disable"]
        let inURL = try lab.phoenix(["history"])
        #expect(inURL.status == 64)
        #expect(!(inURL.stdout + inURL.stderr).contains(password), "\(inURL.stderr)")
        #expect(try pg.server.psql("SELECT count(*) FROM phoenix.runs WHERE command LIKE '%' || '\(password)' || '%'") == "0")
    }

    @Test("TLS: verify-full against the server's certificate works; a wrong root is refused, and so is a certificate for another name (verify-ca takes it)")
    func tlsVerifyFull() throws {
        let pg = try PostgresLab(tlsFromLab: true)
        let lab = pg.lab
        let ca = lab.certificates.ca
        func use(_ url: String) { lab.stateArguments = ["--state", url, "--state-password-file", pg.passwordFile] }

        use(pg.server.url(sslmode: "verify-full", rootCertificate: ca))
        let synced = try lab.phoenix(["sync", "dns"])
        #expect(synced.status == 0, "\(synced.stdout)\(synced.stderr)")
        #expect(try pg.server.psql("SELECT count(*) FROM phoenix.runs") == "1")

        // Another CA's root: the server's certificate does not verify.
        let elsewhere = try TemporaryDirectory("phoenix-pg-other-ca")
        let other = try TestCertificates(in: elsewhere)
        use(pg.server.url(sslmode: "verify-full", rootCertificate: other.ca))
        let wrongRoot = try lab.phoenix(["history"])
        #expect(wrongRoot.status == 1, "\(wrongRoot.stdout)\(wrongRoot.stderr)")
        #expect(wrongRoot.stderr.contains("the state store postgres://phoenix@127.0.0.1:\(pg.server.port)/phoenix"), "\(wrongRoot.stderr)")
        #expect(wrongRoot.stderr.lowercased().contains("certificate"), "says it is the certificate: \(wrongRoot.stderr)")
        // No root at all for verify-full is refused before any connection.
        use("postgres://phoenix@127.0.0.1:\(pg.server.port)/phoenix")
        #expect(try lab.phoenix(["history"]).status == 64)

        // A server whose certificate names another host: verify-full refuses it, verify-ca takes it.
        let misnamed = try TestCertificates(in: elsewhere, subjectAltName: "DNS:db.elsewhere.example")
        let server = try PostgresServer(tls: PostgresServer.TLS(certificate: misnamed.cert, key: misnamed.key))
        lab.stateArguments = ["--state", server.url(sslmode: "verify-full", rootCertificate: misnamed.ca), "--state-password-file", pg.passwordFile]
        let wrongName = try lab.phoenix(["history"])
        #expect(wrongName.status == 1, "a certificate for db.elsewhere.example does not serve 127.0.0.1: \(wrongName.stdout)\(wrongName.stderr)")
        lab.stateArguments = ["--state", server.url(sslmode: "verify-ca", rootCertificate: misnamed.ca), "--state-password-file", pg.passwordFile]
        let chainOnly = try lab.phoenix(["history"])
        #expect(chainOnly.status == 0, "\(chainOnly.stderr)")
    }

    @Test("migrate SQLite → PostgreSQL → SQLite gives equal stores, keeps run ids and the hashing key; again is a no-op; other runs are refused")
    func migrate() async throws {
        let pg = try PostgresLab()
        let lab = pg.lab
        // A history on SQLite: a sync, a hand edit repaired, a no-op.
        lab.stateArguments = []
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        try "# edited by hand\n".write(toFile: lab.recordsFile, atomically: true, encoding: .utf8)
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        #expect(try lab.phoenix(["sync", "dns"]).status == 0)
        let original = try StateStore(path: lab.state).dump()
        #expect(original.runs.count == 3 && !original.journal.isEmpty && !original.blobs.isEmpty)

        let url = pg.server.url()
        func migrate(_ from: String, _ to: String) throws -> CommandResult {
            try lab.phoenix(["state", "migrate", "--from", from, "--to", to, "--state-password-file", pg.passwordFile])
        }
        let toPostgres = try migrate(lab.state, url)
        #expect(toPostgres.status == 0, "\(toPostgres.stdout)\(toPostgres.stderr)")
        #expect(toPostgres.stdout.contains("copied 3 runs"), "\(toPostgres.stdout)")
        #expect(try await pg.store().dump() == original, "PostgreSQL holds what SQLite held, the key among it")
        let again = try migrate(lab.state, url)
        #expect(again.status == 0 && again.stdout.contains("already holds the same"), "\(again.stdout)\(again.stderr)")

        // The copy is a working store: its records make the next sync a no-op, and its runs go on from 4.
        lab.stateArguments = ["--state", url, "--state-password-file", pg.passwordFile]
        let noOp = try lab.phoenix(["sync", "dns"])
        #expect(noOp.stdout.contains("No changes"), "\(noOp.stdout)\(noOp.stderr)")
        #expect(try pg.server.psql("SELECT max(id) FROM phoenix.runs") == "4")

        // And back: a fresh SQLite file holding what PostgreSQL holds now.
        let back = lab.directory.file("back/state.sqlite")
        #expect(try migrate(url, back).status == 0)
        let postgres = try await pg.store().dump()
        let returned = try StateStore(path: back).dump()
        #expect(returned == postgres)
        #expect(Array(returned.runs.prefix(3)) == original.runs && returned.key == original.key, "the first three runs and the key are the original's")

        // A target holding other runs under the same ids is refused, and left as it was.
        let other = lab.directory.file("other/state.sqlite")
        let otherStore = try StateStore(path: other)
        let (run, _) = try otherStore.beginRun(command: "sync everything", user: "mallory", host: "elsewhere", pid: 1)
        try await otherStore.finishRun(run, outcome: .succeeded, summary: "")
        let refused = try migrate(lab.state, other)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("holds other runs: its run 1 (sync everything) is not the source's run 1"), "\(refused.stderr)")
        #expect(try StateStore(path: other).dump().runs.map(\.command) == ["sync everything"])
    }

    /// The state store's round trips from a `--stats` line.
    static func stateRoundTrips(_ stderr: String) -> Int? {
        guard let range = stderr.range(of: #"(\d+) state store round trips"#, options: .regularExpression) else { return nil }
        return Int(stderr[range].split(separator: " ").first ?? "")
    }
}
