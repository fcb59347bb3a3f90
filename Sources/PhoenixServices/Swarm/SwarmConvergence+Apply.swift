import Foundation
import PhoenixCore
import PhoenixEngine

extension SwarmConvergence {
    public var name: String { SwarmKind().name }

    /// A rollback leaves what the Swarm runs: a stack goes back to an earlier compose by reverting its commit.
    public func notRestored(_ ids: [String], since run: Int64) -> String { Self.leftByRollback(ids, since: run) }

    /// What a rollback says of the Swarm's, Portainer's and the stacks' changes since a run.
    static func leftByRollback(_ ids: [String], since run: Int64) -> String {
        "\(ids.joined(separator: ", ")) (changed since run \(run)) stay as they are: a stack goes back to an earlier compose when its commit is "
            + "reverted and synced (a failed deploy rolls itself back)"
    }
    public var stage: SyncStage { .swarm }
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { SwarmKind().nodes(in: context) }

    /// What the daemons say, and each resource's change planned from it.
    public struct Observation: Sendable {
        let daemons: Daemons
        public let items: [Item]
    }

    /// Reads the manager and every worker; in a run, first waits for the certificates that feed
    /// Swarm secrets (their versioned names follow what the certs stage installs).
    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        if let waitFor = context.waitFor { for id in secrets.feedingCertificates { _ = await waitFor(id) } }
        do throws(DockerError) {
            let daemons = try await counting(into: context.stats).observe()
            return Observation(daemons: daemons, items: items(daemons, digests: context.digests))
        } catch {
            throw Self.failure(error)
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Item> {
        var plan = KindPlan<Item>()
        for item in observation.items {
            if let failure = item.failure {
                plan.failed[item.id] = item.problem ?? .bug("an unplannable Swarm resource without its reason: \(failure)")
            } else if item.steps.isEmpty {
                plan.unchanged.append(item.id)
            } else {
                plan.steps.append(
                    Step(
                        resources: [item.id], target: item.id, action: .update, reasons: item.lines.map(ChangeReason.init),
                        detail: item.lines.joined(separator: "; "), change: item))
            }
        }
        return plan
    }

    public func apply(_ step: PhoenixCore.Step<Item>, prepared: Void, in context: StepContext) async throws(ResourceFailure) {
        let member = self.member(step.id)
        let kind = counting(into: context.stats)
        do {
            for change in step.change.steps { try await kind.execute(change, member: member, item: step.id) }
        } catch {
            throw Self.failure(error)
        }
    }

    public func verify(_ step: PhoenixCore.Step<Item>, applied: Void, in context: StepContext) async throws(ResourceFailure) {
        do { try await counting(into: context.stats).verify(step.change, member: member(step.id)) } catch {
            throw Self.failure(error)
        }
    }

    /// The Swarm's changes are not undone: a half-made change is finished by the next run.
    public func restore(
        _ step: PhoenixCore.Step<Item>, applied: Void?, after failure: ResourceFailure, in context: StepContext
    ) async -> RestoreOutcome? { nil }

    /// This kind with its Engine API calls also counted in `stats` (the run's, or a step's).
    func counting(into stats: RunStats) -> SwarmConvergence {
        var counted = self
        counted.connections = connections.counting(into: stats)
        return counted
    }

    /// The member a `swarm:node/<name>` resource is (nil for networks and secrets).
    func member(_ id: String) -> SwarmDesired.Member? {
        ([desired.manager].compactMap { $0 } + desired.workers).first { $0.resourceID == id }
    }

    /// A Docker error as a refusal naming the call; a readiness that did not come as what was seen;
    /// the state store's error as its refusal.
    static func failure(_ error: any Error) -> ResourceFailure {
        switch error {
        case let error as DockerError: return .refused(system: "Docker Engine API", call: error.call, message: error.description)
        case let failure as ResourceFailure: return failure
        case let failure as StepFailure: return .verificationFailed(check: "", seen: failure.description)
        case let error as StateError: return .refused(system: "the state store", call: "record", message: error.description)
        default: return .refused(system: "the Swarm", call: "", message: "\(error)")
        }
    }

    /// The execution as the Swarm's printers show it: every resource's change and how it went.
    public static func report(_ execution: KindExecution<SwarmConvergence>, synced: Bool, calls: Int) -> SwarmReport {
        guard let observation = execution.observation else {
            return SwarmReport(
                report: Report(error: execution.failure?.description, calls: calls), applied: synced, results: execution.results, failure: execution.failure)
        }
        let results = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        var items = observation.items
        for index in items.indices {
            guard let result = results[items[index].id] else { continue }
            if let error = result.failure { items[index].failure = error.description }
            items[index].done = result.outcome == .converged
        }
        return SwarmReport(report: Report(items: items, calls: calls), applied: synced, results: execution.results)
    }

    struct StepFailure: Error, CustomStringConvertible {
        let description: String
    }

    func managerClient() async throws -> any DockerEngine {
        guard let manager = desired.manager else { throw StepFailure(description: "no manager") }
        return try await connections.client(manager)
    }

    func execute(_ step: Item.Step, member: SwarmDesired.Member?, item: String) async throws {
        let manager = try await managerClient()
        switch step {
        case .initialise:
            guard let member, let advertise = member.advertise else { throw StepFailure(description: "no address to advertise") }
            _ = try await manager.initSwarm(advertise: advertise)
        case let .join(stale):
            guard let member, let advertise = member.advertise, let managerAddress = desired.manager?.advertise else {
                throw StepFailure(description: "no address to advertise")
            }
            for id in stale { try await manager.removeNode(id) }
            let token = try await manager.joinTokens().worker
            try await connections.client(member).joinSwarm(manager: "\(managerAddress):2377", token: token, advertise: advertise)
            try await waitReady(member)
        case let .removeStale(ids):
            for id in ids { try await manager.removeNode(id) }
        case let .labels(add, remove):
            guard let member else { return }
            let node = try await node(of: member)
            var labels = node.labels
            for (key, value) in add { labels[key] = value }
            for key in remove { labels[key] = nil }
            labels[Self.managedLabels] = member.labels.isEmpty ? nil : member.labels.keys.sorted().joined(separator: ",")
            try await manager.updateNode(node, labels: labels)
        case let .createNetwork(name):
            try await manager.createOverlayNetwork(name, labels: ["io.phoenix.managed": "true"])
        case let .createSecret(name, versioned):
            guard case let .value(value)? = secrets.sources[name] else { throw StepFailure(description: "no value for \(name)") }
            // A run always has its store's key: an unnamed version comes from a plan only.
            guard let versioned else { throw StepFailure(description: "no state store key to name the new version of \(name) with") }
            try await manager.createSecret(versioned, value: value, labels: [SecretVersions.label: name])
        case let .pruneSecrets(ids):
            for id in ids {
                do throws(DockerError) {
                    try await manager.removeSecret(id)
                } catch {
                    // In use after all (a service took it since the read): kept for the next run.
                    if error.kind == .api(status: 400) { continue }
                    throw error
                }
            }
        }
    }

    /// The member's node as the manager lists it: by its own node id, else the Ready one of its name.
    func node(of member: SwarmDesired.Member) async throws -> SwarmNode {
        guard let manager = desired.manager else { throw StepFailure(description: "no manager") }
        switch await listedNode(of: member, manager: manager) {
        case let .success(node?): return node
        case .success(nil): throw StepFailure(description: "\(member.name) is not on the manager's node list")
        case let .failure(error): throw error
        }
    }

    /// The member's node, nil when the manager does not list it. (Typed throws only, the result
    /// returned: the release optimiser of Swift 6.3.1 crashes splitting an untyped-throws async
    /// function around typed-throws calls on the Engine's port.)
    func listedNode(of member: SwarmDesired.Member, manager: SwarmDesired.Member) async -> Result<SwarmNode?, DockerError> {
        do throws(DockerError) {
            let nodes = try await connections.client(manager).nodes()
            let info = try await connections.client(member).info()
            return .success(nodes.first { $0.id == info.nodeID } ?? nodes.first { $0.hostname == member.name && $0.state == "ready" })
        } catch {
            return .failure(error)
        }
    }

    func waitReady(_ member: SwarmDesired.Member) async throws {
        if let failure = await readiness(member) { throw StepFailure(description: failure) }
    }

    /// nil once the member's node shows Ready on the manager; else why not, after `joinTimeout`.
    /// (One typed-throws loop without a thrown error of its own: the release optimiser of Swift
    /// 6.3.1 crashes splitting an untyped-throws async loop around typed-throws calls.)
    func readiness(_ member: SwarmDesired.Member) async -> String? {
        let deadline = Date().addingTimeInterval(joinTimeout)
        var last = "not listed"
        while Date() < deadline {
            do throws(DockerError) {
                guard let manager = desired.manager else { return "no manager" }
                let info = try await connections.client(member).info()
                if let node = try await connections.client(manager).nodes().first(where: { $0.id == info.nodeID }) {
                    if node.state == "ready" { return nil }
                    last = node.state
                }
            } catch {
                last = error.description
            }
            try? await Task.sleep(nanoseconds: 300_000_000)
        }
        return "\(member.name) joined but is \(last), not Ready, after \(Int(joinTimeout)) s"
    }

    /// Reads back what the steps changed.
    func verify(_ item: Item, member: SwarmDesired.Member?) async throws {
        let manager = try await managerClient()
        for step in item.steps {
            switch step {
            case .initialise:
                let info = try await manager.info()
                guard info.swarmState == "active", info.isManager else {
                    throw StepFailure(description: "after init the daemon says \(info.swarmState), manager \(info.isManager)")
                }
            case let .join(ids), let .removeStale(ids):
                if case .join = step, let member { try await waitReady(member) }
                let left = Set(try await manager.nodes().map(\.id)).intersection(ids)
                if !left.isEmpty { throw StepFailure(description: "stale node entries still listed: \(left.sorted().joined(separator: ", "))") }
            case let .labels(add, remove):
                guard let member else { continue }
                let node = try await node(of: member)
                let missing = add.filter { node.labels[$0.key] != $0.value }.keys.sorted() + remove.filter { node.labels[$0] != nil }
                if !missing.isEmpty { throw StepFailure(description: "labels not as set on \(member.name): \(missing.joined(separator: ", "))") }
            case let .createNetwork(name):
                guard try await manager.networks().contains(where: { $0.name == name && $0.scope == "swarm" }) else {
                    throw StepFailure(description: "network \(name) is not there after create")
                }
            case let .createSecret(name, versioned):
                guard let versioned, try await manager.secrets().contains(where: { $0.name == versioned }) else {
                    throw StepFailure(description: "secret \(versioned ?? name) is not there after create")
                }
            case .pruneSecrets:
                break
            }
        }
    }

    /// Removes the versions of the desired secrets phoenix made that no service uses any more
    /// (after the stacks moved to the new ones). Returns the names removed.
    public func pruneUnusedVersions(digests: ContentDigests) async -> [String] {
        guard let client = try? await managerClient(), let all = try? await client.secrets(), let services = try? await client.services() else { return [] }
        var removed: [String] = []
        for name in desired.secrets.keys.sorted() {
            guard let current = secrets.version(name, digests: digests)?.name else { continue }
            for secret in Self.unusedVersions(of: name, keeping: current, secrets: all, services: services) {
                if (try? await client.removeSecret(secret.id)) != nil { removed.append(secret.name) }
            }
        }
        return removed
    }
}
