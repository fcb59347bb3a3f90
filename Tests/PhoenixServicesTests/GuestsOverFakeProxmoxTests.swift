import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// The guests' settings and the firewall's rule sets through the API, driven by the sync service
/// and the executor over `FakeProxmox` (no Proxmox runs here: the fake stands in for its API; the
/// integration suites run the same kinds against fakepve). The state store is the in-memory double.
// The limit catches a hang; it is minutes, not seconds, because under the whole suite on two cores
// these share the pool with the integration tests that block while they wait for real servers.
@Suite("Guests and the API firewall over the fake Proxmox API", .timeLimit(.minutes(3)))
struct GuestsOverFakeProxmoxTests {
    static let web = "/nodes/pve/lxc/101"
    static let db = "/nodes/pve/lxc/102"

    /// The estate, and a cluster where web (101) and db (102) each have one setting to change.
    static func setUp() throws -> (Estate, FakeProxmox) {
        let estate = try FakeEstate().load()
        let proxmox = FakeEstate.cluster(estate, differing: [101: ["cores": "1"], 102: ["memory": "512"]])
        return (estate, proxmox)
    }

    @Test("a guest's rule set waits for the guest's settings: while web's change is held, db's rules go in and web's do not")
    func ordering() async throws {
        let (estate, proxmox) = try Self.setUp()
        let store = InMemoryStateStore()
        let service = FakeRun(estate: estate, proxmox: proxmox).service()
        proxmox.hold("PUT \(Self.web)/config")
        let run = Task { try await service.sync(store: store, command: "sync guests firewall") }
        await proxmox.wait { changes, parked in
            parked["PUT \(Self.web)/config"] == 1 && changes.contains("POST \(Self.db)/firewall/rules") && changes.contains("POST /cluster/firewall/rules")
        }
        #expect(!proxmox.changes.contains { $0.contains("\(Self.web)/firewall") }, "web's rules went in before its settings: \(proxmox.changes)")
        proxmox.release("PUT \(Self.web)/config")
        let outcome = try await run.value
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")

        let changes = proxmox.changes
        let settings = try #require(changes.firstIndex(of: "PUT \(Self.web)/config"))
        let rules = try #require(changes.firstIndex(of: "POST \(Self.web)/firewall/rules"))
        #expect(settings < rules, "\(changes)")
        let journal = try store.journal(run: try #require(outcome.run))
        let verified = try #require(journal.position("guest:101", .verified))
        let intent = try #require(journal.position("firewall:guest/101", .intent))
        #expect(verified < intent, "the rule set's change began only after the guest's was verified")
        #expect(proxmox.config(of: 101)?["cores"] == "2" && proxmox.config(of: 102)?["memory"] == "1024")
        #expect(proxmox.rules(at: "\(Self.web)/firewall").map(\.dport) == ["443"])
        #expect(proxmox.options(at: "/cluster/firewall")["policy_in"] == "DROP")
    }

    @Test("a guest whose change Proxmox refuses blocks its rule set; the other guest, its rules and the cluster's go on")
    func blocking() async throws {
        let (estate, proxmox) = try Self.setUp()
        proxmox.refuse(101, parameter: "cores", message: "value '2' is greater than the maximum of 1")
        let store = InMemoryStateStore()
        let outcome = try await FakeRun(estate: estate, proxmox: proxmox).service().sync(store: store, command: "sync guests firewall")
        #expect(!outcome.succeeded)
        let results = FakeRun.results(outcome)
        let web = try #require(results["guest:101"]?.failure)
        #expect(web.failure.category == "refused", "\(web)")
        #expect(web.description.contains("cores") && web.description.contains("greater than the maximum"), "\(web)")
        let rules = try #require(results["firewall:guest/101"]?.failure)
        #expect(rules.failure == .blocked(dependency: "guest:101", reason: web.description))
        #expect(results["guest:102"]?.outcome == .converged)
        #expect(results["firewall:guest/102"]?.outcome == .converged)
        #expect(results["firewall:cluster"]?.outcome == .converged)
        #expect(!proxmox.changes.contains { $0.contains("\(Self.web)/firewall") }, "\(proxmox.changes)")
        #expect(proxmox.config(of: 101)?["cores"] == "1", "the refused change left the guest as it was")
        #expect(try store.journal(run: try #require(outcome.run)).phases("firewall:guest/101").isEmpty, "a blocked scope is never attempted")
        #expect(try store.guestRecords()[101] == nil && store.guestRecords()[102] != nil)
    }

    @Test("a setting that does not take fails the check: the settings the change did take are put back")
    func restore() async throws {
        let estate = try FakeEstate().load()
        // web needs two settings; Proxmox takes the cores and keeps the memory as it was.
        let proxmox = FakeEstate.cluster(estate, differing: [101: ["cores": "1", "memory": "256"]])
        proxmox.dropSetting("memory", of: 101)
        let store = InMemoryStateStore()
        let outcome = try await FakeRun(estate: estate, proxmox: proxmox).service().sync(store: store, command: "sync guests firewall")
        let result = try #require(FakeRun.results(outcome)["guest:101"])
        let error = try #require(result.failure)
        guard case let .verificationFailed(check, seen) = error.failure else {
            Issue.record("not a failed check: \(error)")
            return
        }
        #expect(check == "memory did not take" && seen == "memory is 256, not 512")
        #expect(error.restore == .restored("the previous settings are back"))
        #expect(result.outcome.word == "restored")
        #expect(proxmox.config(of: 101)?["cores"] == "1", "the cores the change took are back to what they were")
        #expect(proxmox.config(of: 101)?["memory"] == "256")
        #expect(proxmox.changes.filter { $0.hasPrefix("PUT \(Self.web)/config") } == ["PUT \(Self.web)/config", "PUT \(Self.web)/config (restoring)"])
        let journal = try store.journal(run: try #require(outcome.run))
        #expect(journal.phases("guest:101") == [.intent, .applied, .restored])
        #expect(FakeRun.results(outcome)["firewall:guest/101"]?.failure?.failure == .blocked(dependency: "guest:101", reason: error.description))
    }

    @Test(
        "a crash at a failpoint leaves the run open; the next run reports it interrupted and converges",
        arguments: ["guest:101:before:crash", "guest:101:after:crash", "firewall:guest/101:after:crash"])
    func crash(_ failpoint: String) async throws {
        let (estate, proxmox) = try Self.setUp()
        let store = InMemoryStateStore()
        await #expect(throws: SyncService.RunAbandoned.self) {
            _ = try await FakeRun(estate: estate, proxmox: proxmox, failpoints: failpoint).service().sync(store: store, command: "sync guests firewall")
        }
        await #expect(try store.runs().first?.outcome == "running")
        // Before the change nothing of web moved; after it, the new setting is there.
        let settingsApplied = failpoint != "guest:101:before:crash"
        #expect(proxmox.config(of: 101)?["cores"] == (settingsApplied ? "2" : "1"), "\(proxmox.changes)")
        #expect(try store.unfinishedResources(in: [1]).contains(failpoint.hasPrefix("guest") ? "guest:101" : "firewall:guest/101"))
        store.abandonHolder()

        let resumed = try await FakeRun(estate: estate, proxmox: proxmox).service().sync(store: store, command: "sync guests firewall")
        #expect(resumed.succeeded, "\(resumed.reports.flatMap(\.failures))")
        #expect(resumed.interrupted.map(\.id) == [1])
        #expect(proxmox.config(of: 101)?["cores"] == "2" && proxmox.rules(at: "\(Self.web)/firewall").count == 1)
        #expect(try store.unfinishedResources(in: [2]).isEmpty)
        let after = try await FakeRun(estate: estate, proxmox: proxmox).service().plan(store: store)
        #expect(!after.hasChanges, "nothing left to do: \(after.reports.flatMap(\.results).filter { $0.action != .unchanged }.map(\.id))")
    }

    @Test("the run's stats count every API request the kinds made; a no-op reads each kind in bulk and writes nothing")
    func stats() async throws {
        let (estate, proxmox) = try Self.setUp()
        let store = InMemoryStateStore()
        let first = FakeRun(estate: estate, proxmox: proxmox).service()
        let outcome = try await first.sync(store: store, command: "sync guests firewall")
        #expect(outcome.succeeded)
        #expect(first.stats[.proxmoxCalls] == proxmox.calls, "every request counted once in the run's stats")
        #expect(first.stats[.proxmoxCalls] > 0)
        let web = try #require(FakeRun.results(outcome)["guest:101"])
        #expect(web.calls == 3, "its change, the pending read and the read-back are the step's own calls: \(web.calls)")

        let (calls, changes) = (proxmox.calls, proxmox.changes)
        let noOp = FakeRun(estate: estate, proxmox: proxmox).service()
        let again = try await noOp.sync(store: store, command: "sync guests firewall")
        #expect(again.succeeded && !again.hasChanges)
        #expect(proxmox.changes == changes, "a no-op changes nothing")
        let scopes = FakeRun.results(again).keys.filter { $0.hasPrefix("firewall:") }.count
        #expect(scopes == 3)
        // The guests: one bulk read, no guest read (each is as phoenix left it); the firewall: one
        // bulk read, then each scope's rules and options.
        #expect(noOp.stats[.proxmoxCalls] == 1 + 1 + 2 * scopes, "\(noOp.stats[.proxmoxCalls])")
        #expect(proxmox.calls - calls == noOp.stats[.proxmoxCalls])
        let guests = try #require(again.reports.lazy.compactMap { $0 as? GuestsReport }.first?.report)
        #expect(guests.read == 0 && guests.notRead == estate.guests.count)
    }

    @Test("an unreachable API fails each kind with the call and the reason, never a clean plan")
    func unreachable() async throws {
        let (estate, proxmox) = try Self.setUp()
        proxmox.setUnreachable(true)
        let outcome = try await FakeRun(estate: estate, proxmox: proxmox).service().plan(store: InMemoryStateStore())
        #expect(!outcome.succeeded)
        #expect(outcome.reports.count == 2)
        for report in outcome.reports {
            #expect(
                report.error?.contains("GET /cluster/resources") == true && report.error?.contains("connection refused") == true, "\(report.error ?? "nil")")
        }
    }
}
