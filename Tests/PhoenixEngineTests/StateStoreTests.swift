import Foundation
import PhoenixCore
import PhoenixState
import PhoenixTesting
import Testing

@Suite("The state store")
struct StateStoreTests {
    func store() throws -> (StateStore, TemporaryDirectory) {
        let directory = try TemporaryDirectory("phoenix-state")
        return (try StateStore(path: directory.file("state/state.sqlite")), directory)
    }

    static let resource = Resource(
        id: "dns:records", unit: .dnsmasq, path: "/etc/phoenix/hosts", contents: "10.0.0.1 a.lab\n", mode: "0644", activation: .reload, origin: "t")

    @Test("one sync at a time: a second is refused with the holder's pid, host and start time")
    func lock() throws {
        let (store, directory) = try store()
        defer { _ = directory }
        let (run, _) = try store.beginRun(command: "sync all", user: "ops", host: "node1")
        #expect(throws: StateError.self) { try store.beginRun(command: "sync dns", user: "ops", host: "node1") }
        do {
            _ = try store.beginRun(command: "sync dns", user: "ops", host: "node1")
        } catch let StateError.locked(pid, host, _) {
            #expect(pid == getpid())
            #expect(host == "node1")
        }
        try store.finishRun(run, outcome: "succeeded", summary: "ok")
        let (next, interrupted) = try store.beginRun(command: "sync dns", user: "ops", host: "node1")
        #expect(next == run + 1)
        #expect(interrupted.isEmpty)
    }

    @Test("a lock held by a dead process is stale: cleared, and its run reported as interrupted")
    func staleLock() throws {
        let (store, directory) = try store()
        // A process that has exited: its pid is free (the kernel does not reuse it this quickly).
        let result = try Command.run("/bin/sh", ["-c", "echo $$"])
        let deadPID = Int32(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))!
        let (crashed, _) = try store.beginRun(command: "sync dns", user: "ops", host: "node1", pid: deadPID)
        try store.journal(run: crashed, resource: "dns:records", phase: "intent")
        try store.journal(run: crashed, resource: "dns:settings", phase: "intent")
        try store.journal(run: crashed, resource: "dns:settings", phase: "verified")
        let (run, interrupted) = try store.beginRun(command: "sync dns", user: "ops", host: "node1")
        #expect(run == crashed + 1)
        #expect(interrupted.map(\.id) == [crashed])
        #expect(try store.run(crashed)?.outcome == "interrupted")
        #expect(try store.unfinishedResources(in: [crashed]) == ["dns:records"])
        // A lock held on another host is never taken over: phoenix cannot see that process.
        try store.finishRun(run, outcome: "succeeded", summary: "")
        _ = try store.beginRun(command: "x", user: "ops", host: "node2", pid: deadPID)
        #expect(throws: StateError.self) { try store.beginRun(command: "sync dns", user: "ops", host: "node1") }
        _ = directory
    }

    @Test("applied contents are kept per run and can be read back for rollback")
    func snapshots() throws {
        let (store, directory) = try store()
        defer { _ = directory }
        let (first, _) = try store.beginRun(command: "sync", user: "ops", host: "h")
        try store.recordApplied(run: first, Self.resource)
        try store.snapshot(run: first)
        try store.finishRun(first, outcome: "succeeded", summary: "")
        let (second, _) = try store.beginRun(command: "sync", user: "ops", host: "h")
        let changed = Resource(
            id: "dns:records", unit: .dnsmasq, path: "/etc/phoenix/hosts", contents: "10.0.0.2 a.lab\n", mode: "0644", activation: .reload, origin: "t")
        try store.recordApplied(run: second, changed)
        try store.snapshot(run: second)
        try store.finishRun(second, outcome: "failed", summary: "")

        #expect(try store.applied()["dns:records"]?.digest == changed.digest)
        let restored = try store.snapshot(of: first)
        #expect(restored.map(\.contents) == ["10.0.0.1 a.lab\n"])
        #expect(restored.first?.unit == .dnsmasq)
        #expect(throws: StateError.runNotRestorable(second, outcome: "failed")) { try store.snapshot(of: second) }
        #expect(throws: StateError.unknownRun(99)) { try store.snapshot(of: 99) }
        #expect(try store.runs().map(\.id) == [second, first])
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
