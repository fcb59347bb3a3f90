import Foundation
import PhoenixCore
import PhoenixEngine

/// The `swarm` stage: the manager initialised when it is not one yet (never with
/// `--force-new-cluster`), each worker joined when it is not a Ready member (a Ready node is never
/// left and rejoined; a stale Down entry of its name is removed first), node labels reconciled (the
/// ones phoenix set, recorded on the node itself; labels set by hand stay), the stacks' external
/// overlay networks created, and their secrets created under versioned names (old versions no
/// service uses pruned). A kind on the executor: each resource's steps applied and read back.
public struct SwarmConvergence: ConvergentKind {
    public let estate: Estate
    public let desired: SwarmDesired
    public var connections: SwarmConnections
    public let secrets: SecretVersions
    /// How long a joined worker may take to show Ready on the manager.
    public var joinTimeout: Double = 30

    /// The label on a node that lists the label keys phoenix manages there.
    public static let managedLabels = "io.phoenix.labels"

    public init(estate: Estate, connections: SwarmConnections, secrets: SecretVersions? = nil) {
        self.estate = estate
        desired = SwarmDesired(estate: estate)
        self.connections = connections
        self.secrets = secrets ?? SecretVersions(estate: estate, desired: desired)
    }

    /// One resource's change: what phoenix does (or would do), and how it went.
    public struct Item: Sendable {
        public enum Step: Sendable, Equatable {
            case initialise
            case join(stale: [String])
            case removeStale([String])
            case labels(add: [String: String], remove: [String])
            case createNetwork(String)
            /// `versioned` nil: a plan without a state store key, which cannot name the version yet.
            case createSecret(name: String, versioned: String?)
            case pruneSecrets([String])
        }

        public let id: String
        public var steps: [Step]
        /// For people: `init the Swarm (advertise 10.0.0.111)`, `labels +role=edge -gpu`.
        public var lines: [String]
        /// Why it cannot be converged as the configuration asks (found at observation), typed.
        public var problem: ResourceFailure? {
            didSet { failure = problem?.words }
        }
        /// What failed, for people: the problem found, or the run's failure.
        public var failure: String?
        public var done = false

        public var hasChanges: Bool { !steps.isEmpty || failure != nil }
    }

    public struct Report: Sendable {
        public var items: [Item] = []
        /// The manager cannot be read or used at all.
        public var error: String?
        public var calls = 0
        public var failures: [String: String] {
            Dictionary(items.compactMap { item in item.failure.map { (item.id, $0) } }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// What the daemons say now.
    struct Daemons: Sendable {
        var manager: DockerInfo
        var nodes: [SwarmNode] = []
        var networks: [DockerNetwork] = []
        var secrets: [SwarmSecret] = []
        var services: [SwarmService] = []
        var workers: [Int: Result<DockerInfo, DockerError>] = [:]
    }

    func observe() async throws(DockerError) -> Daemons {
        guard let manager = desired.manager else { throw DockerError(endpoint: "-", call: "plan", kind: .malformed, message: "no manager") }
        let client = try await connections.client(manager)
        var observation = Daemons(manager: try await client.info())
        if observation.manager.swarmState == "active" && observation.manager.isManager {
            observation.nodes = try await client.nodes()
            observation.networks = try await client.networks()
            observation.secrets = try await client.secrets()
            observation.services = try await client.services()
        }
        observation.workers = await withTaskGroup(of: (Int, Result<DockerInfo, DockerError>).self) { group in
            for worker in desired.workers {
                group.addTask {
                    do throws(DockerError) {
                        return (worker.vmid, .success(try await connections.client(worker).info()))
                    } catch {
                        return (worker.vmid, .failure(error))
                    }
                }
            }
            var results: [Int: Result<DockerInfo, DockerError>] = [:]
            for await (vmid, result) in group { results[vmid] = result }
            return results
        }
        return observation
    }

    /// Every resource's change as read now, fingerprinted with `digests` (a store's, or none yet).
    /// Changes nothing.
    public func plan(digests: ContentDigests) async -> Report {
        guard desired.manager != nil else { return Report() }
        do throws(DockerError) {
            let daemons = try await observe()
            return Report(items: items(daemons, digests: digests), calls: await connections.calls())
        } catch {
            return Report(error: error.description, calls: await connections.calls())
        }
    }

    func items(_ observation: Daemons, digests: ContentDigests) -> [Item] {
        guard let manager = desired.manager else { return [] }
        var items: [Item] = []
        let info = observation.manager
        var managerItem = Item(id: manager.resourceID, steps: [], lines: [])
        switch (info.swarmState, info.isManager) {
        case ("inactive", _):
            managerItem.steps.append(.initialise)
            managerItem.lines.append("init the Swarm on \(manager.name) (advertise \(manager.advertise ?? "?"))")
            if manager.advertise == nil { managerItem.problem = .invalid(reason: "VM \(manager.vmid) has no address to advertise (phoenix.docker.advertise)") }
            if !manager.labels.isEmpty {
                managerItem.steps.append(.labels(add: manager.labels, remove: []))
                managerItem.lines.append("labels " + manager.labels.keys.sorted().map { "+\($0)=\(manager.labels[$0]!)" }.joined(separator: " "))
            }
        case ("active", true):
            if let node = observation.nodes.first(where: { $0.id == info.nodeID }) { labelChange(node, member: manager, into: &managerItem) }
        case ("active", false):
            managerItem.problem = .invalid(
                reason: "\(manager.name) is a worker of another Swarm: phoenix does not take it over (make it leave by hand, or fix swarm_role)")
        case let (state, _):
            managerItem.problem = .cannotCheck(
                reason: "\(manager.name)'s Swarm state is \(state): phoenix does not force a new cluster (see docker info, recover by hand)")
        }
        items.append(managerItem)
        let managerReady = info.swarmState == "active" && info.isManager

        for worker in desired.workers {
            var item = Item(id: worker.resourceID, steps: [], lines: [])
            defer { items.append(item) }
            guard case let .success(workerInfo)? = observation.workers[worker.vmid] else {
                if case let .failure(error)? = observation.workers[worker.vmid] { item.problem = Self.failure(error) }
                continue
            }
            let named = observation.nodes.filter { $0.hostname == worker.name }
            if workerInfo.swarmState == "active", let node = named.first(where: { $0.id == workerInfo.nodeID }) {
                let stale = named.filter { $0.id != node.id && $0.state == "down" }.map(\.id)
                if !stale.isEmpty {
                    item.steps.append(.removeStale(stale))
                    item.lines.append("remove \(stale.count) stale Down node entr\(stale.count == 1 ? "y" : "ies") named \(worker.name)")
                }
                if node.state != "ready" {
                    item.problem = .cannotCheck(
                        reason:
                            "\(worker.name) is a member but \(node.state), not Ready: phoenix never leaves and rejoins it (check its daemon and the network to the manager)"
                    )
                }
                labelChange(node, member: worker, into: &item)
            } else if workerInfo.swarmState == "active" {
                item.problem = .invalid(
                    reason: managerReady
                        ? "\(worker.name) belongs to another Swarm (its node \(workerInfo.nodeID) is not on this manager): phoenix does not make it leave"
                        : "\(worker.name) is in a Swarm while the manager is not: phoenix does not make it leave")
            } else if workerInfo.swarmState == "inactive" {
                let stale = named.filter { $0.state != "ready" }.map(\.id)
                item.steps.append(.join(stale: stale))
                item.lines.append(
                    "join as a worker (advertise \(worker.advertise ?? "?"))"
                        + (stale.isEmpty ? "" : ", removing \(stale.count) stale Down entr\(stale.count == 1 ? "y" : "ies") first"))
                if worker.advertise == nil { item.problem = .invalid(reason: "VM \(worker.vmid) has no address to advertise (phoenix.docker.advertise)") }
                if !worker.labels.isEmpty {
                    item.steps.append(.labels(add: worker.labels, remove: []))
                    item.lines.append("labels " + worker.labels.keys.sorted().map { "+\($0)=\(worker.labels[$0]!)" }.joined(separator: " "))
                }
            } else {
                item.problem = .cannotCheck(
                    reason: "\(worker.name)'s Swarm state is \(workerInfo.swarmState): phoenix waits for it to settle (see docker info there)")
            }
        }

        for name in desired.networks.keys.sorted() {
            var item = Item(id: SwarmKind.networkID(name), steps: [], lines: [])
            let users = desired.networks[name]!.joined(separator: ", ")
            if let network = observation.networks.first(where: { $0.name == name }) {
                if network.scope != "swarm" {
                    item.problem = .invalid(
                        reason: "network \(name) exists as a \(network.scope) \(network.driver) network; the stacks (\(users)) need a Swarm overlay")
                }
            } else {
                item.steps.append(.createNetwork(name))
                item.lines.append("create the overlay network \(name) (attachable; used by \(users))")
            }
            items.append(item)
        }

        for name in desired.secrets.keys.sorted() {
            var item = Item(id: SwarmKind.secretID(name), steps: [], lines: [])
            let users = desired.secrets[name]!
            let usedBy = users.isEmpty ? "" : " (needed by \(users.joined(separator: ", ")))"
            guard let version = secrets.version(name, digests: digests) else {
                item.problem = .invalid(reason: "secret \(name)\(usedBy) has no source: \(secrets.reason(name) ?? "unknown")")
                items.append(item)
                continue
            }
            let previous = observation.secrets.contains { $0.labels[SecretVersions.label] == name }
            switch version {
            case let .named(versioned):
                if !observation.secrets.contains(where: { $0.name == versioned }) {
                    item.steps.append(.createSecret(name: name, versioned: versioned))
                    item.lines.append("\(previous ? "new version" : "create") \(versioned)\(usedBy)")
                }
            case .unnamed:
                // No store key yet: sync makes one, and every version is new under it.
                item.steps.append(.createSecret(name: name, versioned: nil))
                item.lines.append("\(previous ? "new version of \(name)" : "create \(name), a new version") (\(SecretVersions.unnamedNote))\(usedBy)")
            }
            let unused = Self.unusedVersions(of: name, keeping: version.name, secrets: observation.secrets, services: observation.services)
            if !unused.isEmpty {
                item.steps.append(.pruneSecrets(unused.map(\.id)))
                item.lines.append("prune \(unused.map(\.name).joined(separator: ", ")) (no service uses it)")
            }
            items.append(item)
        }
        return items
    }

    private func labelChange(_ node: SwarmNode, member: SwarmDesired.Member, into item: inout Item) {
        let managed = Set((node.labels[Self.managedLabels] ?? "").split(separator: ",").map(String.init))
        let add = member.labels.filter { node.labels[$0.key] != $0.value }
        let remove = managed.filter { member.labels[$0] == nil && node.labels[$0] != nil }.sorted()
        let bookkeeping = member.labels.keys.sorted().joined(separator: ",") != (node.labels[Self.managedLabels] ?? "")
        guard !add.isEmpty || !remove.isEmpty || bookkeeping else { return }
        item.steps.append(.labels(add: add, remove: remove))
        let words = add.keys.sorted().map { "+\($0)=\(add[$0]!)" } + remove.map { "-\($0)" }
        if !words.isEmpty { item.lines.append("labels " + words.joined(separator: " ")) }
    }

    /// Versions of `name` phoenix made that are not `keeping` and that no service mounts.
    static func unusedVersions(of name: String, keeping: String?, secrets: [SwarmSecret], services: [SwarmService]) -> [SwarmSecret] {
        let used = Set(
            services.flatMap { service in
                (service.spec["TaskTemplate"]?["ContainerSpec"]?["Secrets"]?.arrayItems ?? []).compactMap { $0["SecretID"]?.stringValue }
            })
        return secrets.filter { $0.labels[SecretVersions.label] == name && $0.name != keeping && !used.contains($0.id) }.sorted { $0.name < $1.name }
    }
}
