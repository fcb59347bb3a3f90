import Foundation
import PhoenixCore
import PhoenixPostgres
import PhoenixState
import PhoenixTesting
import Testing

/// The backends of the state port. Every one of them passes the contract below: the SQLite store
/// is phoenix's default, the in-memory one is PhoenixTesting's double. PostgreSQL needs a server,
/// so its runs of the same tests are a suite of their own that says so (PostgresStateStoreTests).
enum StateBackendKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite, memory, postgres

    /// The backends that need nothing but this process.
    static let local: [StateBackendKind] = [.sqlite, .memory]

    var testDescription: String { rawValue }

    /// A fresh store, and what keeps it alive (its files, or its server).
    func make() async throws -> (any StateBackend, AnyObject?) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory("phoenix-state")
            return (try StateStore(path: directory.file("state/state.sqlite")), directory)
        case .memory:
            return (InMemoryStateStore(), nil)
        case .postgres:
            let fixture = try PostgresFixture()
            return (try await fixture.open(), fixture)
        }
    }
}

/// The state-store contract: what any backend must do (run against each backend).
@Suite("The state store contract, for every backend")
struct StateContractTests {
    static let resource = StateStoreTests.resource

    /// A successful run that applied a stack's env file holding a password.
    static func recordSecret(in store: any StateBackend) async throws -> (secret: String, resource: Resource, run: Int64) {
        let secret = "POSTGRES_PASSWORD=correct-horse-battery-staple-41\n"
        let envFile = Resource(
            id: "files:db/db.env", unit: .stackFiles, path: "/quickOS/portainer_stacks/db/db.env", contents: secret, mode: "0644", activation: .none,
            origin: "t", sensitive: true)
        let (run, _) = try await store.beginRun(command: "sync files", user: "ops", host: "h")
        try await store.recordApplied(run: run, envFile)
        try await store.journal(run: run, resource: envFile.id, phase: .verified, newDigest: store.digests.digest(secret, sensitive: true))
        try await store.snapshot(run: run)
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        return (secret, envFile, run)
    }

    @Test("one sync at a time: a second is refused with the holder's pid, host and start time", arguments: StateBackendKind.local)
    func lock(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "sync all", user: "ops", host: "node1")
        await #expect(throws: StateError.self) { try await store.beginRun(command: "sync dns", user: "ops", host: "node1") }
        do {
            _ = try await store.beginRun(command: "sync dns", user: "ops", host: "node1")
        } catch let StateError.locked(holder) {
            #expect(holder.pid == getpid())
            #expect(holder.host == "node1")
            #expect(holder.run == run, "the holder's run is named")
            #expect(holder.user == "ops" && holder.command == "sync all", "the holder's user and command, not the blocked one's")
        }
        try await store.finishRun(run, outcome: .succeeded, summary: "ok")
        let (next, interrupted) = try await store.beginRun(command: "sync dns", user: "ops", host: "node1")
        #expect(next == run + 1)
        #expect(interrupted.isEmpty)
    }

    @Test(
        "the agent's runs: queued without the lock, started under it, with trigger, commits and details; pages; the last applied commit",
        arguments: StateBackendKind.local)
    func agentRuns(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        await #expect(try store.lastAppliedCommit() == nil)
        let webhook = RunTrigger(.webhook, provider: "gitea", delivery: "d-1")
        let first = try await store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: webhook)
        // Queued is not holding the lock: a person's sync still goes, and the queued run waits for it.
        let (person, _) = try await store.beginRun(command: "sync all", user: "ops", host: "node1")
        await #expect(throws: StateError.self) { try await store.beginRun(queued: first, pid: getpid()) }
        try await store.finishRun(person, outcome: .noChanges, summary: "")
        let (started, interrupted) = try await store.beginRun(queued: first, pid: getpid())
        #expect(started == first && interrupted.isEmpty)
        await #expect(throws: StateError.self) { try await store.beginRun(command: "sync all", user: "ops", host: "node1") }
        try await store.annotateRun(first, commit: "c1", previousCommit: "c0", details: #"{"plan":[]}"#)
        try await store.annotateRun(first, commit: nil, previousCommit: nil, details: nil)
        try await store.finishRun(first, outcome: .succeeded, summary: "1 changed")
        let record = try await #require(try store.run(first))
        #expect(record.trigger == webhook && record.commit == "c1" && record.previousCommit == "c0" && record.outcome == "succeeded")
        await #expect(try store.runDetails(first) == #"{"plan":[]}"#)
        await #expect(try store.run(person)?.trigger == nil)
        // A run superseded before it started is never started; a failed commit is not the applied one.
        let second = try await store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
        try await store.annotateRun(second, commit: "c2", previousCommit: "c1", details: nil)
        try await store.finishRun(second, outcome: .superseded, summary: "c3 came")
        await #expect(throws: StateError.self) { try await store.beginRun(queued: second, pid: getpid()) }
        let third = try await store.queueRun(command: "agent", user: "phoenix", host: "node1", pid: getpid(), trigger: RunTrigger(.poll))
        _ = try await store.beginRun(queued: third, pid: getpid())
        try await store.annotateRun(third, commit: "c3", previousCommit: "c1", details: nil)
        try await store.finishRun(third, outcome: .rolledBack, summary: "")
        await #expect(try store.lastAppliedCommit()?.commit == "c1")
        await #expect(try store.run(second)?.outcome == "superseded")
        // Newest first, a page at a time.
        await #expect(try store.runs(limit: 2, before: nil).map(\.id) == [third, second])
        // Ids are in the order runs were recorded: the queued one before the person's.
        await #expect(try store.runs(limit: 2, before: second).map(\.id) == [person, first])
        await #expect(try store.runs(limit: 2, before: first).isEmpty)
    }

    @Test("a lock held by a dead process is stale: cleared, and its run reported as interrupted", arguments: StateBackendKind.local)
    func staleLock(_ backend: StateBackendKind) async throws {
        let (store, keeper) = try await backend.make()
        defer { _ = keeper }
        // The crashed run. Locally: a process that has exited (its pid is free; the kernel does not
        // reuse it this quickly). On PostgreSQL: another session that ends without finishing (the
        // lab's tests end it by killing the process: PostgresSyncTests).
        let crashed: Int64
        if let fixture = keeper as? PostgresFixture {
            let other = try await fixture.open()
            (crashed, _) = try await other.beginRun(command: "sync dns", user: "ops", host: "node1")
            try await Self.journalCrash(run: crashed, in: other)
            // Its session ends as a cut connection or a lost host ends it: the server ends it.
            try fixture.server.psql("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted")
            try await fixture.sessionsEnded()
            await other.close()
        } else {
            let result = try Command.run("/bin/sh", ["-c", "echo $$"])
            let deadPID = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
            (crashed, _) = try await store.beginRun(command: "sync dns", user: "ops", host: "node1", pid: deadPID)
            try await Self.journalCrash(run: crashed, in: store)
        }
        let (run, interrupted) = try await store.beginRun(command: "sync dns", user: "ops", host: "node1")
        #expect(run == crashed + 1)
        #expect(interrupted.map(\.id) == [crashed])
        await #expect(try store.run(crashed)?.outcome == "interrupted")
        await #expect(try store.unfinishedResources(in: [crashed]) == ["dns:records"])
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        // A live holder is never taken over: on another host phoenix cannot see the process, and on
        // PostgreSQL the holder's session is alive.
        if let fixture = keeper as? PostgresFixture {
            let other = try await fixture.open()
            _ = try await other.beginRun(command: "x", user: "ops", host: "node2")
            await #expect(throws: StateError.self) { try await store.beginRun(command: "sync dns", user: "ops", host: "node1") }
            await other.close()
        } else {
            let result = try Command.run("/bin/sh", ["-c", "echo $$"])
            let deadPID = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
            _ = try await store.beginRun(command: "x", user: "ops", host: "node2", pid: deadPID)
            await #expect(throws: StateError.self) { try await store.beginRun(command: "sync dns", user: "ops", host: "node1") }
        }
    }

    /// What the crashed run had done: one resource closed, one announced and never closed.
    static func journalCrash(run: Int64, in store: any StateBackend) async throws {
        try await store.journal(run: run, resource: "dns:records", phase: .intent)
        try await store.journal(run: run, resource: "dns:settings", phase: .intent)
        try await store.journal(run: run, resource: "dns:settings", phase: .verified)
    }

    /// The DNS records as a later run changed them.
    static let changed = Resource(
        id: "dns:records", unit: .dnsmasq, path: "/etc/phoenix/hosts", contents: "10.0.0.2 a.lab\n", mode: "0644", activation: .reload, origin: "t")

    /// A run of `command` that installs `resource` and records the files, ending `outcome`.
    static func recordFiles(
        _ resource: Resource, in store: any StateBackend, command: String = "sync", outcome: RunOutcome = .succeeded
    ) async throws -> Int64 {
        let (run, _) = try await store.beginRun(command: command, user: "ops", host: "h")
        try await store.recordApplied(run: run, resource)
        try await store.snapshot(run: run)
        try await store.finishRun(run, outcome: outcome, summary: "")
        return run
    }

    @Test("applied contents are kept per run and can be read back for rollback", arguments: StateBackendKind.local)
    func snapshots(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let first = try await Self.recordFiles(StateStoreTests.resource, in: store)
        let second = try await Self.recordFiles(Self.changed, in: store, outcome: .failed)

        await #expect(try store.applied()["dns:records"]?.digest == Self.changed.digest)
        let restored = try await store.snapshot(of: first).resources
        #expect(restored.map(\.contents) == ["10.0.0.1 a.lab\n"])
        #expect(restored.first?.unit == .dnsmasq)
        await #expect(throws: StateError.runNotRestorable(second, outcome: "failed")) { try await store.snapshot(of: second) }
        await #expect(throws: StateError.unknownRun(99)) { try await store.snapshot(of: 99) }
        await #expect(try store.runs().map(\.id) == [second, first])
    }

    @Test(
        "a run that recorded no files (converge, a sync of other stages) returns to those of the newest run before it that did; an agent's run is a target like a sync",
        arguments: StateBackendKind.local)
    func snapshotOfRunsWithoutFiles(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let agent = try await Self.recordFiles(StateStoreTests.resource, in: store, command: "agent")
        let (converge, _) = try await store.beginRun(command: "converge", user: "ops", host: "h")
        try await store.finishRun(converge, outcome: .succeeded, summary: "")
        let later = try await Self.recordFiles(Self.changed, in: store)

        await #expect(try store.snapshot(of: agent).resources.map(\.contents) == ["10.0.0.1 a.lab\n"], "the agent's own files")
        await #expect(try store.snapshot(of: converge).resources.map(\.contents) == ["10.0.0.1 a.lab\n"], "the agent run's files: converge left them so")
        await #expect(try store.snapshot(of: later).resources.map(\.contents) == ["10.0.0.2 a.lab\n"])
    }

    @Test("converge's guest records: written, replaced, forgotten; a converge run is no rollback target", arguments: StateBackendKind.local)
    func guestRecords(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "converge", user: "ops", host: "h")
        try await store.recordGuests([
            GuestRecord(vmid: 101, fingerprint: "f1", observed: "lxc name=web maxcpu=1", run: run),
            GuestRecord(vmid: 102, fingerprint: "f2", observed: "lxc name=db maxcpu=2", run: run),
        ])
        try await store.recordGuests([GuestRecord(vmid: 101, fingerprint: "f1b", observed: "lxc name=web maxcpu=2", run: run, pending: ["cores", "net0"])])
        try await store.forgetGuests([102])
        try await store.finishRun(run, outcome: .succeeded, summary: "converge: 2 guests changed")
        await #expect(
            try store.guestRecords() == [
                101: GuestRecord(vmid: 101, fingerprint: "f1b", observed: "lxc name=web maxcpu=2", run: run, pending: ["cores", "net0"])
            ])
        // Once a later sync installed files, rolling back to it would read as "no files at all" and
        // remove every managed file.
        await #expect(try store.snapshot(of: run).resources.isEmpty, "no files then and none now: nothing to put back")
        _ = try await Self.recordFiles(StateStoreTests.resource, in: store)
        await #expect(throws: StateError.runChangedNoFiles(run, command: "converge")) { try await store.snapshot(of: run) }
    }

    @Test(
        "stack records: what was deployed is kept whole for a rollback, replaced by the next deploy, forgotten when pruned",
        arguments: StateBackendKind.local)
    func stackRecords(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "sync stacks", user: "ops", host: "h")
        let compose = "services:\n  web:\n    image: lab/web:1\n"
        try await store.recordStack(
            StackRecord(
                id: "stack:production/web", namespace: "production_web", specHash: "h1", compose: compose, services: ["web": "{\"image\":\"lab/web:1\"}"],
                run: run))
        try await store.recordStack(StackRecord(id: "stack:production/db", namespace: "production_db", specHash: "d1", compose: "x", services: [:], run: run))
        try await store.recordStack(
            StackRecord(
                id: "stack:production/web", namespace: "production_web", specHash: "h2", compose: compose + "#2\n", services: ["web": "{}", "cache": "{}"],
                run: run))
        try await store.forgetStack("stack:production/db")
        try await store.finishRun(run, outcome: .succeeded, summary: "stacks: 1 deployed")
        let records = try await store.stackRecords()
        #expect(records.keys.sorted() == ["stack:production/web"])
        #expect(
            records["stack:production/web"]
                == StackRecord(
                    id: "stack:production/web", namespace: "production_web", specHash: "h2", compose: compose + "#2\n", services: ["web": "{}", "cache": "{}"],
                    run: run))
    }

    @Test(
        "any kind's records: the newest per resource, each run's kept for a rollback, a removal hides it, kinds apart",
        arguments: StateBackendKind.local)
    func kindRecords(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (first, _) = try await store.beginRun(command: "sync", user: "ops", host: "h")
        try await store.recordKind("notes", resource: "note:a", value: "1", run: first)
        try await store.recordKind("notes", resource: "note:b", value: "x", run: first)
        try await store.recordKind("other", resource: "note:a", value: "theirs", run: first)
        try await store.finishRun(first, outcome: .succeeded, summary: "")
        let (second, _) = try await store.beginRun(command: "sync", user: "ops", host: "h")
        try await store.recordKind("notes", resource: "note:a", value: "2", run: second)
        try await store.recordKind("notes", resource: "note:b", value: nil, run: second)
        try await store.recordKind("notes", resource: "note:c", value: "new", run: second)
        try await store.finishRun(second, outcome: .succeeded, summary: "")

        let now = try await store.kindRecords("notes")
        #expect(
            now == ["note:a": KindRecord(resource: "note:a", value: "2", run: second), "note:c": KindRecord(resource: "note:c", value: "new", run: second)])
        let then = try await store.kindRecords("notes", asOf: first)
        #expect(then == ["note:a": KindRecord(resource: "note:a", value: "1", run: first), "note:b": KindRecord(resource: "note:b", value: "x", run: first)])
        await #expect(try store.kindRecords("other") == ["note:a": KindRecord(resource: "note:a", value: "theirs", run: first)])
        await #expect(try store.kindRecords("none").isEmpty)
    }

    @Test("the newest verified digest per resource, by id prefix: what drift compares certificates with", arguments: StateBackendKind.local)
    func verifiedDigests(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "sync certs", user: "ops", host: "h")
        try await store.journal(run: run, resource: "cert:a.lab", phase: .intent, detail: "issue")
        try await store.journal(run: run, resource: "cert:a.lab", phase: .verified, newDigest: "aa01")
        try await store.journal(run: run, resource: "cert:b.lab", phase: .applied, newDigest: "bb01")
        try await store.journal(run: run, resource: "cert:a.lab", phase: .verified, newDigest: "aa02")
        try await store.journal(run: run, resource: "dns:records", phase: .verified, newDigest: "dd01")
        try await store.finishRun(run, outcome: .succeeded, summary: "")
        await #expect(try store.verifiedDigests(prefix: "cert:") == ["cert:a.lab": "aa02"])
        await #expect(try store.verifiedDigests(prefix: "nothing:").isEmpty)
    }

    @Test("a resource that may hold secrets is kept only as a keyed hash: never its contents, never a plain digest", arguments: StateBackendKind.local)
    func keyedHashes(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (secret, envFile, run) = try await StateContractTests.recordSecret(in: store)

        let recorded = try await #require(try store.applied()[envFile.id]?.digest)
        #expect(recorded.hasPrefix("hmac-sha256:"))
        #expect(store.digests.matches(secret, recorded))
        #expect(!store.digests.matches("POSTGRES_PASSWORD=guess\n", recorded))
        #expect(!ContentDigests(key: Array(repeating: 7, count: 32)).matches(secret, recorded), "another key gives another hash")
        await #expect(try store.content(digest: recorded) == nil, "the contents are not kept")
        await #expect(try store.content(digest: Digest.sha256Hex(secret)) == nil)
        let snapshot = try await store.snapshot(of: run)
        #expect(snapshot.resources.isEmpty && snapshot.withoutContents.map(\.id) == [envFile.id])
        // What a rollback needs to check the installed file against the run: where it is and its keyed hash.
        #expect(snapshot.withoutContents.first.map { [$0.path, $0.digest, $0.unit.key] } == [envFile.path, recorded, "rsync"])
    }

    @Test("the journal keeps every phase in order; an intent without a final phase is unfinished", arguments: StateBackendKind.local)
    func journal(_ backend: StateBackendKind) async throws {
        let (store, directory) = try await backend.make()
        defer { _ = directory }
        let (run, _) = try await store.beginRun(command: "sync all", user: "ops", host: "h")
        for (resource, phase) in [("guest:101", JournalPhase.intent), ("guest:101", .applied), ("guest:101", .restored), ("dns:records", .intent)] {
            try await store.journal(run: run, resource: resource, phase: phase, detail: "d")
        }
        await #expect(try store.journal(run: run).map(\.phase) == [.intent, .applied, .restored, .intent])
        await #expect(try store.unfinishedResources(in: [run]) == ["dns:records"])
        await #expect(try store.unfinishedResources(in: []) == [])
        try await store.recordApplied(run: run, Self.resource)
        await #expect(try store.content(digest: Self.resource.digest) == Self.resource.contents)
        try await store.recordDeleted(id: Self.resource.id)
        await #expect(try store.applied()[Self.resource.id] == nil)
    }

}

@Suite("The SQLite state store")
struct StateStoreTests {
    func store() throws -> (StateStore, TemporaryDirectory) {
        let directory = try TemporaryDirectory("phoenix-state")
        return (try StateStore(path: directory.file("state/state.sqlite")), directory)
    }

    static let resource = Resource(
        id: "dns:records", unit: .dnsmasq, path: "/etc/phoenix/hosts", contents: "10.0.0.1 a.lab\n", mode: "0644", activation: .reload, origin: "t")

    @Test("SQLite: a secret's contents and plain digest are nowhere in the file; the key file is 0600 and reused")
    func keyedHashesOnDisk() async throws {
        let (store, directory) = try store()
        defer { _ = directory }
        let (secret, envFile, run) = try await StateContractTests.recordSecret(in: store)
        let recorded = try #require(try store.applied()[envFile.id]?.digest)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: store.path))
        #expect(bytes.range(of: Data("correct-horse".utf8)) == nil, "the contents are not in the database")
        #expect(bytes.range(of: Data(Digest.sha256Hex(secret).utf8)) == nil, "nor a plain digest anyone could confirm a guess with")
        let key = try #require(FileManager.default.attributesOfItem(atPath: store.path + ".key")[.posixPermissions] as? Int)
        #expect(key == 0o600)
        // A second opening uses the same key.
        #expect(try StateStore(path: store.path).digests.matches(secret, recorded))
        #expect(try StateStore.existing(path: store.path)?.digests.matches(secret, recorded) == true)
    }

    @Test("the database is private to its owner, and reading never creates one")
    func permissions() throws {
        let (store, directory) = try store()
        let attributes = try FileManager.default.attributesOfItem(atPath: store.path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try StateStore.existing(path: directory.file("absent.sqlite")) == nil)
        #expect(!FileManager.default.fileExists(atPath: directory.file("absent.sqlite")))
    }
}
