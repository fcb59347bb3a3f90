import Foundation
import PhoenixCore
import PhoenixDocker
import PhoenixEngine

extension SwarmConvergence {
    /// Hooks into the run: wait for a resource of another kind (nil: it converged, or is not in
    /// this run; else why it failed), wait for what a resource needs of other kinds, and announce a
    /// resource as done.
    public struct RunHooks: Sendable {
        public let store: any StateBackend
        public let run: Int64
        public let waitFor: @Sendable (String) async -> String?
        public let needs: @Sendable (String) async -> String?
        public let settle: @Sendable (String, String?) async -> Void
        /// The run's resources (nil: none known), for a kind that orders itself after others' data.
        public let graph: ResourceGraph?
        /// Resources an interrupted run announced and never finished.
        public let unfinished: Set<String>

        public init(
            store: any StateBackend, run: Int64, waitFor: @escaping @Sendable (String) async -> String?,
            needs: @escaping @Sendable (String) async -> String?, settle: @escaping @Sendable (String, String?) async -> Void,
            graph: ResourceGraph? = nil, unfinished: Set<String> = []
        ) {
            self.store = store
            self.run = run
            self.waitFor = waitFor
            self.needs = needs
            self.settle = settle
            self.graph = graph
            self.unfinished = unfinished
        }

        /// The hooks of a run's context.
        public init(_ context: RunContext) {
            self.init(
                store: context.store, run: context.run,
                waitFor: { id in await context.resources.wait(for: [id]).first.map(\.value) },
                needs: { id in
                    await context.failedDependencies(of: [id]).sorted { $0.key < $1.key }.first.map {
                        "not attempted: \($0.key) did not converge (\($0.value))"
                    }
                },
                settle: { id, failure in await context.resources.settle(id, failure: failure) }, graph: context.graph,
                unfinished: context.unfinished)
        }
    }

    /// Converges the Swarm: the manager first, then the workers side by side, then networks and
    /// secrets. Each resource is journalled (intent, applied, verified or failed) and settled.
    public func apply(_ hooks: RunHooks) async -> Report {
        guard let manager = desired.manager else { return Report() }
        let digests = hooks.store.digests
        // Secrets fed by certificates take the value the certs stage leaves in this run.
        for id in secrets.feedingCertificates { _ = await hooks.waitFor(id) }
        let observation: Observation
        do throws(DockerError) {
            observation = try await observe()
        } catch {
            return Report(error: error.description, calls: await connections.calls())
        }
        let planned = items(observation, digests: digests)
        var done: [Item] = []
        let managerItem = await perform(planned[0], member: manager, hooks: hooks)
        done.append(managerItem)
        let rest = Array(planned.dropFirst())
        if let failure = managerItem.failure {
            for var item in rest {
                item.failure = item.failure ?? "not attempted: \(manager.resourceID) did not converge (\(failure))"
                await hooks.settle(item.id, item.failure)
                done.append(item)
            }
        } else {
            let workers = Dictionary(uniqueKeysWithValues: desired.workers.map { ($0.resourceID, $0) })
            let results = await withTaskGroup(of: (Int, Item).self) { group in
                for (index, item) in rest.enumerated() {
                    group.addTask { (index, await perform(item, member: workers[item.id], hooks: hooks)) }
                }
                var results: [(Int, Item)] = []
                for await result in group { results.append(result) }
                return results.sorted { $0.0 < $1.0 }.map(\.1)
            }
            done += results
        }
        return Report(items: done, calls: await connections.calls())
    }

    /// One resource: wait for its needs, journal, apply each step, verify, settle.
    func perform(_ planned: Item, member: SwarmDesired.Member?, hooks: RunHooks) async -> Item {
        var item = planned
        if item.failure == nil, let member, let blocked = await hooks.waitFor(GuestSettingsKind.id(member.vmid)) {
            item.failure = "not attempted: \(GuestSettingsKind.id(member.vmid)) did not converge (\(blocked))"
        }
        if let failure = item.failure {
            await hooks.settle(item.id, failure)
            return item
        }
        guard !item.steps.isEmpty else {
            await hooks.settle(item.id, nil)
            return item
        }
        do {
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .intent, detail: item.lines.joined(separator: "; "))
            try failpoints.hit(item.id, .before)
            for step in item.steps { try await execute(step, member: member, item: item.id) }
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .applied)
            try failpoints.hit(item.id, .after)
            try await verify(item, member: member)
            try hooks.store.journal(run: hooks.run, resource: item.id, phase: .verified)
            item.done = true
        } catch {
            item.failure = "\(error)"
            try? hooks.store.journal(run: hooks.run, resource: item.id, phase: .failed, detail: "\(error)")
        }
        await hooks.settle(item.id, item.failure)
        return item
    }

    struct StepFailure: Error, CustomStringConvertible {
        let description: String
    }

    func managerClient() async throws -> DockerClient {
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
        let nodes = try await managerClient().nodes()
        let info = try await connections.client(member).info()
        if let node = nodes.first(where: { $0.id == info.nodeID }) { return node }
        if let node = nodes.first(where: { $0.hostname == member.name && $0.state == "ready" }) { return node }
        throw StepFailure(description: "\(member.name) is not on the manager's node list")
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
