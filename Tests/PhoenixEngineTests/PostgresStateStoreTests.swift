import Foundation
import PhoenixCore
import PhoenixPostgres
import PhoenixTesting
import Testing

extension Trait where Self == ConditionTrait {
    /// Skips the suite, with the reason, when PostgreSQL is not installed; under the README's test
    /// command (PHOENIX_REQUIRE_REAL_COMPONENTS=1) it runs and fails on it instead.
    static var needsPostgres: Self {
        .enabled(if: Components.available(PostgresServer.component), Comment(rawValue: Components.reason([PostgresServer.component])))
    }
}

/// A real PostgreSQL server for one test (PhoenixTesting's `PostgresServer`) and the store's way in:
/// its URL over loopback and the role's password, given as `$PGPASSWORD` would give it.
final class PostgresFixture: Sendable {
    let server: PostgresServer

    init(tls: PostgresServer.TLS? = nil) throws {
        server = try PostgresServer(tls: tls)
    }

    func location(_ url: String? = nil) throws -> PostgresLocation {
        try PostgresLocation(parsing: url ?? server.url(), defaultUser: "phoenix")
    }

    var password: PostgresPassword? {
        get throws { try PostgresPassword.find(for: location(), passwordFile: nil, environment: ["PGPASSWORD": server.password], read: { _ in nil }) }
    }

    /// Waits until the server has ended every session that held an advisory lock: a closed client
    /// connection's backend exits a moment later, and its locks go with it.
    func sessionsEnded() async throws {
        let ended = try await eventually(timeout: 60, interval: 0.05) {
            try server.psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'") == "0"
        }
        let sessions = try server.psql(
            "SELECT l.pid, a.state, a.wait_event, a.query FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory'")
        try #require(ended, "a closed session still holds its lock: \(sessions)")
    }

    /// A store on the server's database (another session each time: another operator or agent).
    func open(_ url: String? = nil, readOnly: Bool = false) async throws -> PostgresStateStore {
        try #require(try await PostgresStateStore.open(location(url), password: password, readOnly: readOnly))
    }
}

/// The state-store contract (StateContractTests) run against a real PostgreSQL, one server per test.
@Suite("The state store contract, on PostgreSQL", .needsPostgres)
struct PostgresContractTests {
    let contract = StateContractTests()

    @Test("one sync at a time: a second is refused naming the holder's user, command, pid, host and start")
    func lock() async throws { try await contract.lock(.postgres) }

    @Test("the agent's runs: queued without the lock, started under it, with trigger, commits and details; pages; the last applied commit")
    func agentRuns() async throws { try await contract.agentRuns(.postgres) }

    @Test("a lock whose session ended is released, and its run reported as interrupted; a live session's lock is never taken")
    func staleLock() async throws { try await contract.staleLock(.postgres) }

    @Test("applied contents are kept per run and can be read back for rollback")
    func snapshots() async throws { try await contract.snapshots(.postgres) }

    @Test("a run that recorded no files returns to those of the newest run before it that did")
    func snapshotOfRunsWithoutFiles() async throws { try await contract.snapshotOfRunsWithoutFiles(.postgres) }

    @Test("converge's guest records: written, replaced, forgotten; a converge run is no rollback target")
    func guestRecords() async throws { try await contract.guestRecords(.postgres) }

    @Test("stack records: kept whole for a rollback, replaced by the next deploy, forgotten when pruned")
    func stackRecords() async throws { try await contract.stackRecords(.postgres) }

    @Test("any kind's records: the newest per resource, each run's kept for a rollback, a removal hides it, kinds apart")
    func kindRecords() async throws { try await contract.kindRecords(.postgres) }

    @Test("the newest verified digest per resource, by id prefix")
    func verifiedDigests() async throws { try await contract.verifiedDigests(.postgres) }

    @Test("a resource that may hold secrets is kept only as a keyed hash")
    func keyedHashes() async throws { try await contract.keyedHashes(.postgres) }

    @Test("the journal keeps every phase in order; an intent without a final phase is unfinished")
    func journal() async throws { try await contract.journal(.postgres) }

    @Test("a store journalled from many tasks at once keeps every entry")
    func concurrentUse() async throws { try await EngineConcurrentUseTests().stateStore(.postgres) }
}

/// What only the PostgreSQL store does: its lock shown and broken from another session.
@Suite("The PostgreSQL state store", .needsPostgres)
struct PostgresStateStoreTests {
    @Test("two stores opening a fresh database at once: one migrates under the lock, the other waits and finds it done; one key for both")
    func concurrentMigrations() async throws {
        let fixture = try PostgresFixture()
        async let first = fixture.open()
        async let second = fixture.open()
        let (a, b) = try await (first, second)
        #expect(try fixture.server.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM phoenix.schema_version") == "1")
        #expect(a.digests.digest("secret", sensitive: true) == b.digests.digest("secret", sensitive: true), "both hash with the database's key")
        await a.close()
        await b.close()
    }

    @Test("over the server's unix socket (postgres:///db?host=DIR): no TLS and no password, as libpq; a run recorded")
    func unixSocket() async throws {
        let fixture = try PostgresFixture()
        let url = "postgres://phoenix@/phoenix?host=\(fixture.server.directory.path)&port=\(fixture.server.port)"
        let location = try PostgresLocation(parsing: url, defaultUser: "phoenix")
        #expect(location.description == url, "printed as given")
        // The template's pg_hba trusts local sockets: no password is sent at all.
        let store = try #require(try await PostgresStateStore.open(location, password: nil))
        let (run, _) = try await store.beginRun(command: "sync dns", user: "ops", host: "h")
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        #expect(try fixture.server.psql("SELECT command || ' ' || outcome FROM phoenix.runs") == "sync dns succeeded")
        await store.close()
    }

    @Test("callers at once while the store's own connection is gone share one new connection: none is opened and left behind")
    func oneConnectionForConcurrentCallers() async throws {
        let fixture = try PostgresFixture()
        let store = try await fixture.open()
        let sessions = "SELECT count(*) FROM pg_stat_activity WHERE usename = 'phoenix'"
        #expect(try fixture.server.psql(sessions) == "1")
        // The server ends the store's session (a restart, a cut connection).
        try fixture.server.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'phoenix'")
        #expect(try await eventually(timeout: 30) { try fixture.server.psql(sessions) == "0" })
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<20 { group.addTask { try await store.runs().count } }
            for try await count in group { #expect(count == 0) }
        }
        #expect(try fixture.server.psql(sessions) == "1", "one new connection for the twenty callers")
        await store.close()
    }

    @Test("the lock shown from another session; broken there, the holder's next write fails and the break is recorded for the next run")
    func breakLock() async throws {
        let fixture = try PostgresFixture()
        let holder = try await fixture.open()
        let other = try await fixture.open()
        await #expect(try other.lockStatus() == LockStatus(holder: nil))
        let (run, _) = try await holder.beginRun(command: "sync dns", user: "alice", host: "laptop", pid: 4242)
        try await holder.journal(run: run, resource: "dns:records", phase: .intent)

        let status = try await other.lockStatus()
        #expect(status.holder?.user == "alice" && status.holder?.run == run && status.holder?.command == "sync dns")
        #expect(status.holder?.heartbeat != nil)
        let broken = try await other.breakLock(by: "bob", host: "node2")
        #expect(broken.holder?.run == run)

        await #expect(throws: StateError.self) { try await holder.journal(run: run, resource: "dns:records", phase: .verified) }
        let error = await #expect(throws: StateError.self) { try await holder.finishRun(run, outcome: .succeeded, summary: "") }
        guard case let .lockLost(lost, _)? = error else {
            Issue.record("the broken run's finish failed otherwise: \(String(describing: error))")
            return
        }
        #expect(lost == run)
        let after = try await other.lockStatus()
        #expect(after.holder == nil)
        #expect(after.lastBreak?.by == "bob@node2" && after.lastBreak?.run == run)
        let (next, interrupted) = try await other.beginRun(command: "sync dns", user: "bob", host: "node2", pid: 1)
        #expect(interrupted.map(\.id) == [run])
        #expect(interrupted.first?.summary.hasPrefix("interrupted: its lock was broken by bob@node2 at ") == true, "\(interrupted)")
        await #expect(try other.unfinishedResources(in: [run]) == ["dns:records"], "nothing after the break was recorded")
        try await other.finishRun(next, outcome: .succeeded, summary: "")
        await holder.close()
        await other.close()
    }
}
