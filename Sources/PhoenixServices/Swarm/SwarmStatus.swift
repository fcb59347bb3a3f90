import Foundation
import PhoenixCore

/// `phoenix swarm status`: the Swarm's members, the stacks' networks and their secrets (names only)
/// as the daemons report them, beside what the configuration asks for. Reads only.
public struct SwarmStatus: Sendable {
    public struct Node: Sendable {
        public var name: String
        /// Nil for a node no VM of the configuration is.
        public var vmid: Int?
        public var role: String
        public var endpoint: String?
        /// `active`, `inactive`, or `unreachable` (with `error`).
        public var swarmState: String?
        public var desiredLabels: [String: String]?
        public var error: String?
        public var nodeID: String?
        public var availability: String?
        public var state: String?
        public var labels: [String: String]?
        public var staleEntries: [String] = []
        public var configured = true
    }

    public struct Network: Sendable {
        public var name: String
        public var exists: Bool
        public var scope: String?
        public var usedBy: [String]
    }

    public struct Secret: Sendable {
        public var name: String
        /// The versioned name of its current value (nil: no source, or not named yet).
        public var current: String?
        public var exists: Bool
        public var versions: [String]
        public var usedBy: [String]
        /// Said when the version cannot be named yet (no state store key).
        public var unnamed: String?
        public var noSource: String?
    }

    public var manager: String
    public var swarmState: String
    public var nodes: [Node]
    public var networks: [Network]
    public var secrets: [Secret]

    /// Reads the manager, each member's `/info`, and one list of nodes, networks, secrets and services.
    public static func read(estate: Estate, connections: SwarmConnections, digests: ContentDigests) async throws(DockerError) -> SwarmStatus {
        let convergence = SwarmConvergence(estate: estate, connections: connections)
        let desired = convergence.desired
        let observation = try await convergence.observe()
        var nodes: [Node] = []
        for member in desired.members {
            var info: DockerInfo?
            if member.isManager { info = observation.manager } else if case let .success(found)? = observation.workers[member.vmid] { info = found }
            let node = observation.nodes.first { $0.id == info?.nodeID } ?? observation.nodes.first { $0.hostname == member.name && $0.state == "ready" }
            var entry = Node(
                name: member.name, vmid: member.vmid, role: member.isManager ? "manager" : "worker", endpoint: member.endpoint,
                swarmState: info?.swarmState ?? "unreachable", desiredLabels: member.labels)
            if case let .failure(error)? = observation.workers[member.vmid] { entry.error = error.description }
            if let node {
                entry.nodeID = node.id
                entry.availability = node.availability
                entry.state = node.state
                entry.labels = node.labels.filter { $0.key != SwarmConvergence.managedLabels }
            }
            entry.staleEntries = observation.nodes.filter { $0.hostname == member.name && $0.id != node?.id }.map(\.id)
            nodes.append(entry)
        }
        let known = Set(desired.members.map(\.name))
        for node in observation.nodes where !known.contains(node.hostname) {
            nodes.append(
                Node(name: node.hostname, role: node.role, availability: node.availability, state: node.state, labels: node.labels, configured: false))
        }
        let networks = desired.networks.keys.sorted().map { name in
            let found = observation.networks.first { $0.name == name }
            return Network(name: name, exists: found != nil, scope: found?.scope, usedBy: desired.networks[name]!)
        }
        let secrets = desired.secrets.keys.sorted().map { name in
            let version = convergence.secrets.version(name, digests: digests)
            let versions = observation.secrets.filter { $0.labels[SecretVersions.label] == name || $0.name == name }.map(\.name).sorted()
            return Secret(
                name: name, current: version?.name, exists: version?.name.map { versions.contains($0) } ?? false, versions: versions,
                usedBy: desired.secrets[name]!, unnamed: version == .unnamed ? "not named yet: \(SecretVersions.unnamedNote)" : nil,
                noSource: convergence.secrets.reason(name))
        }
        return SwarmStatus(
            manager: desired.manager?.name ?? "", swarmState: observation.manager.swarmState, nodes: nodes, networks: networks, secrets: secrets)
    }
}

/// `phoenix stacks status`: every configured stack (and every one phoenix deployed), its services,
/// desired and running replicas, image, update state, the last deploy's run and spec hash, health.
public struct StacksStatus: Sendable {
    public struct Service: Sendable {
        public var name: String
        public var image: String
        public var desired: Int
        public var running: Int
        public var updateState: String?
        public var specHash: String?
        public var converged: Bool

        public init(name: String, image: String, desired: Int, running: Int, updateState: String? = nil, specHash: String? = nil, converged: Bool) {
            self.name = name
            self.image = image
            self.desired = desired
            self.running = running
            self.updateState = updateState
            self.specHash = specHash
            self.converged = converged
        }
    }

    public struct Stack: Sendable {
        public var resource: String
        public var namespace: String
        public var configured: Bool
        public var lastDeployRun: Int64?
        public var specHash: String?
        /// `converged`, `not converged`, or `not deployed`.
        public var health: String
        public var services: [Service]

        public init(
            resource: String, namespace: String, configured: Bool, lastDeployRun: Int64? = nil, specHash: String? = nil, health: String, services: [Service]
        ) {
            self.resource = resource
            self.namespace = namespace
            self.configured = configured
            self.lastDeployRun = lastDeployRun
            self.specHash = specHash
            self.health = health
            self.services = services
        }
    }

    public var stacks: [Stack]

    public init(stacks: [Stack]) { self.stacks = stacks }

    /// One list of services and one of tasks on the manager.
    public static func read(estate: Estate, connections: SwarmConnections, records: [String: StackRecord]) async throws(DockerError) -> StacksStatus {
        let desired = SwarmDesired(estate: estate)
        guard let manager = desired.manager else { return StacksStatus(stacks: []) }
        let client = try await connections.client(manager)
        let services = try await client.services()
        let tasks = try await client.tasks()
        var ids = desired.stacks.map { ($0.resourceID, $0.namespace, true) }
        for record in records.values.sorted(by: { $0.id < $1.id }) where !ids.contains(where: { $0.0 == record.id }) {
            ids.append((record.id, record.namespace, false))
        }
        let stacks = ids.map { id, namespace, configured in
            let record = records[id]
            let own = services.filter { $0.stack == namespace }.sorted { $0.name < $1.name }
            let rows = own.map { service in
                let current = tasks.filter { $0.serviceID == service.id && $0.desiredState == "running" }
                let running = current.filter { $0.state == "running" }.count
                let want = service.replicas ?? current.count
                return Service(
                    name: service.name, image: service.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue ?? "", desired: want,
                    running: running, updateState: service.updateState, specHash: service.labels[StackCompose.specLabel],
                    converged: running == want && (service.updateState == nil || service.updateState == "completed"))
            }
            let health = own.isEmpty ? "not deployed" : rows.allSatisfy(\.converged) ? "converged" : "not converged"
            return Stack(
                resource: id, namespace: namespace, configured: configured, lastDeployRun: record?.run, specHash: record?.specHash, health: health,
                services: rows)
        }
        return StacksStatus(stacks: stacks)
    }
}
