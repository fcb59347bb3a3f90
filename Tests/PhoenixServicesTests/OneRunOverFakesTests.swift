import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// Every kind that has a fake port in one run of the sync service: the guests' settings and the
/// firewall's rule sets (`FakeProxmox`), the Swarm and the stacks (`FakeDockerEngine`), and the
/// certificates (`FakeCertificateAuthority`, `FakeMachine`). No real component: each fake says
/// what it stands in for.
// The limit catches a hang; it is minutes, not seconds, because under the whole suite on two cores
// these share the pool with the integration tests that block while they wait for real servers.
@Suite("One run over every fake port", .timeLimit(.minutes(3)))
struct OneRunOverFakesTests {
    static func machines(_ ca: FakeCertificateAuthority) -> (host: FakeMachine, guest: FakeMachine) {
        let host = FakeMachine(
            name: "the host",
            files: [
                FakeEstate.rootFile: FileFacts(contents: ca.rootPEM, owner: "root", group: "root", mode: "0644"),
                FakeEstate.passwordFile: FileFacts(contents: ca.password, owner: "root", group: "root", mode: "0600"),
            ])
        return (host, FakeMachine(name: "guest 101") { _ in CommandResult(status: 0, stdout: "", stderr: "") })
    }

    @Test("every kind converges in one run; the run's stats hold each system's calls, the deploy and the sign")
    func everything() async throws {
        let estate = try FakeEstate().load()
        let proxmox = FakeEstate.cluster(estate, differing: [101: ["cores": "1"]])
        let docker = FakeDockerEngine(hostname: "swarm-manager")
        let ca = try FakeCertificateAuthority()
        let (host, guest) = Self.machines(ca)
        let service = FakeRun(estate: estate, proxmox: proxmox, docker: docker, ca: ca, host: host, guest: guest).service()
        let store = InMemoryStateStore()
        let outcome = try await service.sync(store: store, command: "sync all")
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")
        let results = FakeRun.results(outcome)
        for id in ["guest:101", "firewall:guest/101", "swarm:node/swarm-manager", "stack:production/whoami", "cert:\(FakeEstate.certificate)"] {
            #expect(results[id]?.outcome == .converged, "\(id): \(results[id].map { "\($0.outcome)" } ?? "not in the run")")
        }
        #expect(service.stats[.proxmoxCalls] == proxmox.calls && proxmox.calls > 0)
        #expect(service.stats[.engineCalls] == docker.calls && docker.calls > 0)
        #expect(service.stats[.deploys] == 1 && docker.deploys == 1)
        #expect(service.stats[.signs] == 1 && ca.counts["sign"] == 1)
        #expect(service.stats[.reloads] == 1)
        let run = try #require(outcome.run)
        let stages = try #require(try store.run(run)?.stages)
        for stage in [SyncStage.guests, .certs, .swarm, .stacks] { #expect(stages.contains(stage), "the run records the stages it changed: \(stages)") }

        let again = FakeRun(estate: estate, proxmox: proxmox, docker: docker, ca: ca, host: host, guest: guest).service()
        let noOp = try await again.sync(store: store, command: "sync all")
        #expect(noOp.succeeded && !noOp.hasChanges)
        #expect(again.stats[.deploys] == 0 && again.stats[.signs] == 0 && again.stats[.writes] == 0)
        await #expect(try store.runs().first?.outcome == "no changes")
        await #expect(try store.runs().first?.stages == [], "a run that changed nothing touched no stage")

        // The statuses the agent's dashboard reads, through the same service: typed, read now.
        let guests = try #require(try await again.status(of: GuestSettings.self, store: store))
        #expect(guests.rows.contains { $0.id == 101 && $0.status == "running" }, "\(guests.rows)")
        let stacks = try #require(try await again.status(of: StacksKind.self, store: store))
        let whoami = try #require(stacks.stacks.first { $0.resource == "stack:production/whoami" })
        #expect(whoami.health == "converged" && whoami.lastDeployRun == outcome.run, "\(whoami)")

        // Drift names the kinds it does not compare; it never passes them over as in sync.
        let drifts = try await again.drift(store: store)
        let unchecked = Dictionary(drifts.compactMap { drift in drift.notChecked.map { (drift.kind, $0) } }) { first, _ in first }
        #expect(Set(unchecked.keys) == ["firewall-rules", "swarm"], "\(drifts.map { "\($0.kind): \($0.lines)" })")
        #expect(unchecked["swarm"]?.contains("has no drift check") == true)
        #expect(drifts.first { $0.kind == "stack" }?.notChecked == nil && drifts.first { $0.kind == "guest-settings" }?.notChecked == nil)
    }

    @Test(
        "--target: the executor runs only the targeted guests' own resources; the estate's (the Swarm's stack) and other guests' (their certificates) stay as they are"
    )
    func targeted() async throws {
        let estate = try FakeEstate().load()
        let proxmox = FakeEstate.cluster(estate, differing: [101: ["cores": "1"], 102: ["cores": "1"]])
        let docker = FakeDockerEngine(hostname: "swarm-manager")
        let ca = try FakeCertificateAuthority()
        let (host, guest) = Self.machines(ca)
        let store = InMemoryStateStore()
        func run(_ guests: Set<Int>) async throws -> [String: ResourceResult] {
            var service = FakeRun(estate: estate, proxmox: proxmox, docker: docker, ca: ca, host: host, guest: guest).service()
            service.scope = GuestScope(guests)
            let outcome = try await service.sync(store: store, command: "sync all --target")
            #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")
            return FakeRun.results(outcome)
        }
        let db = try await run([102])
        #expect(db["guest:102"]?.outcome == .converged && db["firewall:guest/102"] != nil, "\(db.keys.sorted())")
        for id in ["guest:101", "firewall:guest/101", "cert:\(FakeEstate.certificate)", "stack:production/whoami", "swarm:network/traefik-public"] {
            #expect(db[id] == nil, "\(id) is not guest 102's: \(db[id].map { "\($0.outcome)" } ?? "")")
        }
        #expect(proxmox.config(of: 101)?["cores"] == "1" && proxmox.config(of: 102)?["cores"] == "2")
        #expect(ca.counts["sign"] == nil && docker.deploys == 0, "no certificate signed, no stack deployed")

        let web = try await run([101])
        #expect(web["guest:101"]?.outcome == .converged && web["cert:\(FakeEstate.certificate)"]?.outcome == .converged, "web's certificate is 101's")
        #expect(web["stack:production/whoami"] == nil && docker.deploys == 0, "the stack is the estate's: an untargeted run deploys it")
        #expect(ca.counts["sign"] == 1)
    }

    @Test("the Swarm manager's VM whose change Proxmox refuses blocks the Swarm and its stack; the containers and their rules go on")
    func blockedAcrossKinds() async throws {
        var configuration = FakeEstate()
        configuration.managerCores = 4
        let estate = try configuration.load()
        let proxmox = FakeEstate.cluster(estate, differing: [101: ["cores": "1"], 1001: ["cores": "2"]])
        proxmox.refuse(1001, parameter: "cores", message: "only 2 cores on node pve")
        let docker = FakeDockerEngine(hostname: "swarm-manager")
        let outcome = try await FakeRun(estate: estate, proxmox: proxmox, docker: docker).service().sync(store: InMemoryStateStore(), command: "sync all")
        #expect(!outcome.succeeded)
        let results = FakeRun.results(outcome)
        let vm = try #require(results["guest:1001"]?.failure)
        #expect(vm.description.contains("only 2 cores"), "\(vm)")
        let manager = try #require(results["swarm:node/swarm-manager"]?.failure)
        #expect(manager.failure == .blocked(dependency: "guest:1001", reason: vm.description))
        for id in ["swarm:network/traefik-public", "swarm:secret/portainer_admin_password", "stack:production/whoami"] {
            guard case let .blocked(dependency, _)? = results[id]?.failure?.failure else {
                Issue.record("\(id) is not blocked: \(results[id].map { "\($0.outcome)" } ?? "not in the run")")
                continue
            }
            #expect(dependency == "swarm:node/swarm-manager", "\(id)")
        }
        #expect(docker.changes.isEmpty, "nothing reached the daemon: \(docker.changes)")
        #expect(results["guest:101"]?.outcome == .converged && results["firewall:guest/101"]?.outcome == .converged)
        #expect(results["firewall:guest/102"]?.outcome == .converged && results["firewall:cluster"]?.outcome == .converged)
    }
}
