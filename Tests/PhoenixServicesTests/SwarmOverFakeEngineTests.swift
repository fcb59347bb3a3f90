import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
import PhoenixTesting
import Testing

/// The Swarm's nodes, networks and secrets and the stacks, driven by the sync service and the
/// executor over `FakeDockerEngine`, a single-node Swarm in memory that also takes the stacks'
/// deploys (no dockerd in seconds: the integration suites SwarmTests and SwarmCrashTests run the
/// same kinds against real daemons). The state store is the in-memory double.
// The limit catches a hang; it is minutes, not seconds, because under the whole suite on two cores
// these share the pool with the integration tests that block while they wait for real servers.
@Suite("The Swarm and the stacks over the fake Docker Engine", .timeLimit(.minutes(3)))
struct SwarmOverFakeEngineTests {
    static let manager = "swarm:node/swarm-manager"
    static let network = "swarm:network/traefik-public"
    static let secret = "swarm:secret/portainer_admin_password"
    static let stack = "stack:production/whoami"
    /// The stack `production_whoami`'s one service.
    static let service = "production_whoami_whoami"

    static func setUp(_ estate: FakeEstate = FakeEstate()) throws -> (Estate, FakeDockerEngine) {
        (try estate.load(), FakeDockerEngine(hostname: "swarm-manager"))
    }

    static func image(_ docker: FakeDockerEngine) -> String? {
        docker.service(named: Self.service)?.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue
    }

    static func running(_ docker: FakeDockerEngine) -> Int {
        let id = docker.service(named: Self.service)?.id
        return docker.state.tasks.filter { $0.serviceID == id && $0.desiredState == "running" && $0.state == "running" }.count
    }

    @Test("the stack is deployed after the manager and its secret: while the secret is held, the network goes in and the stack waits")
    func ordering() async throws {
        let (estate, docker) = try Self.setUp()
        let store = InMemoryStateStore()
        let service = FakeRun(estate: estate, docker: docker).service()
        docker.hold("POST /secrets/create")
        let run = Task { try await service.sync(store: store, command: "sync swarm stacks") }
        await docker.wait { changes, parked in parked["POST /secrets/create"] == 1 && changes.contains("POST /networks/create") }
        #expect(!docker.changes.contains("deploy production_whoami"), "deployed before its secret: \(docker.changes)")
        docker.release("POST /secrets/create")
        let outcome = try await run.value
        #expect(outcome.succeeded, "\(outcome.reports.flatMap(\.failures))")

        let changes = docker.changes
        let initialised = try #require(changes.firstIndex(of: "POST /swarm/init"))
        let created = try #require(changes.firstIndex(of: "POST /secrets/create"))
        let deployed = try #require(changes.firstIndex(of: "deploy production_whoami"))
        #expect(initialised < created && created < deployed, "\(changes)")
        let journal = try store.journal(run: try #require(outcome.run))
        let intent = try #require(journal.position(Self.stack, .intent))
        for need in [Self.manager, Self.secret, Self.network] {
            let verified = try #require(journal.position(need, .verified), "\(need) never verified")
            #expect(verified < intent, "the stack's deploy began before \(need) was verified")
        }
        #expect(Self.image(docker) == "lab/whoami:1" && Self.running(docker) == 2)
        #expect(docker.state.nodeLabels["role"] == "manager")
        let versioned = try #require(docker.state.secrets.first?.secret.name)
        #expect(versioned.hasPrefix("portainer_admin_password_") && versioned != "portainer_admin_password")
        #expect(docker.state.secrets.first?.value.revealed == "fake-Secret-9f3b")

        let before = docker.changes
        let again = try await FakeRun(estate: estate, docker: docker).service().sync(store: store, command: "sync swarm stacks")
        #expect(again.succeeded && !again.hasChanges, "\(FakeRun.results(again).values.filter { $0.action != .unchanged }.map(\.id))")
        #expect(docker.changes == before, "a no-op changes nothing, deploys nothing")
    }

    @Test("a secret the daemon refuses blocks the stack; the manager and the network converge")
    func blocking() async throws {
        let (estate, docker) = try Self.setUp()
        docker.refuse("POST /secrets/create", message: "rpc error: code = Unavailable desc = the raft is not ready")
        let store = InMemoryStateStore()
        let outcome = try await FakeRun(estate: estate, docker: docker).service().sync(store: store, command: "sync swarm stacks")
        #expect(!outcome.succeeded)
        let results = FakeRun.results(outcome)
        let secret = try #require(results[Self.secret]?.failure)
        #expect(secret.failure.category == "refused" && secret.description.contains("the raft is not ready"), "\(secret)")
        let stack = try #require(results[Self.stack]?.failure)
        #expect(stack.failure == .blocked(dependency: Self.secret, reason: secret.description))
        #expect(results[Self.manager]?.outcome == .converged && results[Self.network]?.outcome == .converged)
        #expect(!docker.changes.contains("deploy production_whoami") && docker.deploys == 0)
        #expect(try store.journal(run: try #require(outcome.run)).phases(Self.stack).isEmpty, "a blocked stack is never attempted")
        #expect(try store.stackRecords().isEmpty)
    }

    @Test("a deploy whose tasks keep failing is rolled back to the last good compose: the old image runs again")
    func rollback() async throws {
        let (estate, docker) = try Self.setUp()
        let store = InMemoryStateStore()
        let first = try await FakeRun(estate: estate, docker: docker).service().sync(store: store, command: "sync swarm stacks")
        #expect(first.succeeded && Self.image(docker) == "lab/whoami:1")

        var next = FakeEstate()
        next.image = "lab/whoami:2"
        let changed = try next.load()
        docker.crash(image: "lab/whoami:2")
        let service = FakeRun(estate: changed, docker: docker).service()
        let deploys = docker.deploys
        let outcome = try await service.sync(store: store, command: "sync swarm stacks")
        #expect(!outcome.succeeded)
        let error = try #require(FakeRun.results(outcome)[Self.stack]?.failure)
        guard case let .verificationFailed(check, seen) = error.failure else {
            Issue.record("not a failed check: \(error)")
            return
        }
        #expect(check.contains("does not converge") && check.contains("3 of its new tasks failed"), "\(check)")
        #expect(seen.contains("non-zero exit (1)"), "\(seen)")
        #expect(error.restore == .restored("rolled back to the compose of run 1"))
        #expect(Self.image(docker) == "lab/whoami:1" && Self.running(docker) == 2, "the old image runs again")
        #expect(docker.deploys - deploys == 2 && service.stats[.deploys] == 2, "the deploy and the rollback")
        #expect(try store.stackRecords()[Self.stack]?.run == 1, "the record still names the last good deploy")
        let journal = try store.journal(run: try #require(outcome.run))
        #expect(journal.phases(Self.stack) == [.intent, .applied, .restored])
    }

    @Test(
        "a crash at a failpoint leaves the run open; the next run reports it interrupted and converges",
        arguments: ["\(manager):after:crash", "\(secret):before:crash", "\(stack):after:crash"])
    func crash(_ failpoint: String) async throws {
        let (estate, docker) = try Self.setUp()
        let store = InMemoryStateStore()
        await #expect(throws: SyncService.RunAbandoned.self) {
            _ = try await FakeRun(estate: estate, docker: docker, failpoints: failpoint).service().sync(store: store, command: "sync swarm stacks")
        }
        await #expect(try store.runs().first?.outcome == "running")
        #expect(docker.changes.contains("deploy production_whoami") == failpoint.hasPrefix(Self.stack), "\(docker.changes)")
        store.abandonHolder()

        let resumed = try await FakeRun(estate: estate, docker: docker).service().sync(store: store, command: "sync swarm stacks")
        #expect(resumed.succeeded, "\(resumed.reports.flatMap(\.failures))")
        #expect(resumed.interrupted.map(\.id) == [1])
        #expect(Self.image(docker) == "lab/whoami:1" && Self.running(docker) == 2)
        #expect(try store.stackRecords()[Self.stack]?.run == 2)
        #expect(try store.unfinishedResources(in: [2]).isEmpty)
        let after = try await FakeRun(estate: estate, docker: docker).service().plan(store: store)
        #expect(!after.hasChanges, "nothing left to do")
    }

    @Test("the run's stats count every Engine API call and every deploy the kinds made")
    func stats() async throws {
        let (estate, docker) = try Self.setUp()
        let store = InMemoryStateStore()
        let service = FakeRun(estate: estate, docker: docker).service()
        let outcome = try await service.sync(store: store, command: "sync swarm stacks")
        #expect(outcome.succeeded)
        #expect(service.stats[.engineCalls] == docker.calls, "every call counted once in the run's stats")
        #expect(service.stats[.engineCalls] > 0)
        #expect(service.stats[.deploys] == 1 && docker.deploys == 1)
        let stack = try #require(FakeRun.results(outcome)[Self.stack])
        #expect(stack.calls > 0, "the deploy's step counts its own calls")

        let calls = docker.calls
        let noOp = FakeRun(estate: estate, docker: docker).service()
        _ = try await noOp.sync(store: store, command: "sync swarm stacks")
        #expect(noOp.stats[.engineCalls] == docker.calls - calls)
        #expect(noOp.stats[.deploys] == 0 && docker.deploys == 1)
    }
}
