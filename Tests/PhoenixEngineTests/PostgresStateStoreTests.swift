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
