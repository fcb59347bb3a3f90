import Foundation
import PhoenixCore

/// What `/info` says of the daemon and its place in a Swarm.
public struct DockerInfo: Sendable, Equatable {
    /// The daemon's host name (the Swarm node's name).
    public let name: String
    /// `inactive`, `pending`, `active`, `error`, `locked`.
    public let swarmState: String
    public let nodeID: String
    /// This daemon is a manager.
    public let isManager: Bool
    public let clusterID: String?
    /// The managers' addresses this node knows (`RemoteManagers`).
    public let managerAddresses: [String]
}

/// A node as the manager lists it.
public struct SwarmNode: Sendable, Equatable {
    public let id: String
    public let version: Int
    public let hostname: String
    public let role: String
    public let availability: String
    /// `ready`, `down`, `unknown`, `disconnected`.
    public let state: String
    public let address: String
    public let labels: [String: String]
    /// The node's spec as Docker holds it (updated whole).
    public let spec: JSONValue
    public let isLeader: Bool
}

public struct DockerNetwork: Sendable, Equatable {
    public let id: String
    public let name: String
    public let driver: String
    public let scope: String
    public let attachable: Bool
    public let labels: [String: String]
}

public struct SwarmSecret: Sendable, Equatable {
    public let id: String
    public let name: String
    public let labels: [String: String]
}

/// A service as the manager lists it: its spec (the parts plan compares), labels and update state.
public struct SwarmService: Sendable, Equatable {
    public let id: String
    public let name: String
    public let version: Int
    public let spec: JSONValue
    public let previousSpec: JSONValue?
    /// `updating`, `paused`, `completed`, `rollback_started`, `rollback_paused`, `rollback_completed` (nil: never updated).
    public let updateState: String?
    public let updateMessage: String?
    public let updatedAt: String

    public init(
        id: String, name: String, version: Int, spec: JSONValue, previousSpec: JSONValue?, updateState: String?, updateMessage: String?, updatedAt: String
    ) {
        self.id = id
        self.name = name
        self.version = version
        self.spec = spec
        self.previousSpec = previousSpec
        self.updateState = updateState
        self.updateMessage = updateMessage
        self.updatedAt = updatedAt
    }

    public var labels: [String: String] { spec["Labels"]?.stringMap ?? [:] }
    /// `com.docker.stack.namespace`: the stack the service belongs to.
    public var stack: String? { labels["com.docker.stack.namespace"] }
    /// Desired replicas (nil for a global service).
    public var replicas: Int? { spec["Mode"]?["Replicated"]?["Replicas"]?.intValue ?? (spec["Mode"]?["Global"] == nil ? 1 : nil) }
}

/// A task: one replica's attempt, with its state and error.
public struct SwarmTask: Sendable, Equatable {
    public let id: String
    public let serviceID: String
    public let nodeID: String
    public let slot: Int?
    public let desiredState: String
    /// `new` … `starting`, `running`, `complete`, `failed`, `shutdown`, `rejected`, `orphaned`.
    public let state: String
    public let error: String?
    public let message: String
    public let exitCode: Int?
    public let timestamp: String
    /// The task template it was made from (compared with the service's to tell old tasks from new).
    public let spec: JSONValue
}

extension DockerClient {
    public func info() async throws(DockerError) -> DockerInfo {
        let info = try await get("/info")
        let swarm = info["Swarm"] ?? .null
        return DockerInfo(
            name: info["Name"]?.stringValue ?? "", swarmState: swarm["LocalNodeState"]?.stringValue ?? "inactive",
            nodeID: swarm["NodeID"]?.stringValue ?? "", isManager: swarm["ControlAvailable"]?.boolValue ?? false,
            clusterID: swarm["Cluster"]?["ID"]?.stringValue,
            managerAddresses: swarm["RemoteManagers"]?.arrayItems.compactMap { $0["Addr"]?.stringValue } ?? [])
    }

    /// `POST /swarm/init`: a new single-manager Swarm advertising `advertise` (never with
    /// `ForceNewCluster`: that is for recovering a broken cluster, by hand). Returns the node id.
    public func initSwarm(advertise: String, listen: String = "0.0.0.0:2377") async throws(DockerError) -> String {
        let answer = try await post("/swarm/init", body: .object([("ListenAddr", .string(listen)), ("AdvertiseAddr", .string(advertise))]))
        return answer.stringValue ?? ""
    }

    /// The join tokens (`GET /swarm`, manager only): worker and manager.
    public func joinTokens() async throws(DockerError) -> (worker: Secret, manager: Secret) {
        let swarm = try await get("/swarm")
        guard let worker = swarm["JoinTokens"]?["Worker"]?.stringValue, let manager = swarm["JoinTokens"]?["Manager"]?.stringValue else {
            throw DockerError(endpoint: endpoint.description, call: "GET /swarm", kind: .malformed, message: "no join tokens")
        }
        return (Secret(worker), Secret(manager))
    }

    /// `POST /swarm/join` on this daemon, with the token (sent in the body only).
    public func joinSwarm(manager: String, token: Secret, advertise: String, listen: String = "0.0.0.0:2377") async throws(DockerError) {
        _ = try await post(
            "/swarm/join",
            body: .object([
                ("ListenAddr", .string(listen)), ("AdvertiseAddr", .string(advertise)), ("RemoteAddrs", .array([.string(manager)])),
                ("JoinToken", .string(token.revealed)),
            ]))
    }

    public func leaveSwarm(force: Bool) async throws(DockerError) {
        _ = try await post("/swarm/leave", query: [("force", force ? "true" : "false")])
    }

    public func nodes() async throws(DockerError) -> [SwarmNode] {
        try await get("/nodes").arrayItems.map { node in
            let spec = node["Spec"] ?? .object([])
            return SwarmNode(
                id: node["ID"]?.stringValue ?? "", version: node["Version"]?["Index"]?.intValue ?? 0,
                hostname: node["Description"]?["Hostname"]?.stringValue ?? "", role: spec["Role"]?.stringValue ?? "",
                availability: spec["Availability"]?.stringValue ?? "", state: node["Status"]?["State"]?.stringValue ?? "",
                address: node["Status"]?["Addr"]?.stringValue ?? "", labels: spec["Labels"]?.stringMap ?? [:], spec: spec,
                isLeader: node["ManagerStatus"]?["Leader"]?.boolValue ?? false)
        }
    }

    /// Sets a node's labels (the rest of its spec as it is).
    public func updateNode(_ node: SwarmNode, labels: [String: String]) async throws(DockerError) {
        let spec = node.spec.with("Labels", .object(labels.keys.sorted().map { ($0, .string(labels[$0]!)) }))
        _ = try await post("/nodes/\(node.id)/update", query: [("version", String(node.version))], body: spec)
    }

    public func removeNode(_ id: String, force: Bool = false) async throws(DockerError) {
        _ = try await delete("/nodes/\(id)", query: [("force", force ? "true" : "false")])
    }

    public func networks() async throws(DockerError) -> [DockerNetwork] {
        try await get("/networks").arrayItems.map { network in
            DockerNetwork(
                id: network["Id"]?.stringValue ?? "", name: network["Name"]?.stringValue ?? "", driver: network["Driver"]?.stringValue ?? "",
                scope: network["Scope"]?.stringValue ?? "", attachable: network["Attachable"]?.boolValue ?? false,
                labels: network["Labels"]?.stringMap ?? [:])
        }
    }

    /// An attachable overlay network.
    public func createOverlayNetwork(_ name: String, labels: [String: String]) async throws(DockerError) {
        _ = try await post(
            "/networks/create",
            body: .object([
                ("Name", .string(name)), ("Driver", .string("overlay")), ("Attachable", .bool(true)), ("CheckDuplicate", .bool(true)),
                ("Labels", .object(labels.keys.sorted().map { ($0, .string(labels[$0]!)) })),
            ]))
    }

    public func secrets() async throws(DockerError) -> [SwarmSecret] {
        try await get("/secrets").arrayItems.map { secret in
            SwarmSecret(
                id: secret["ID"]?.stringValue ?? "", name: secret["Spec"]?["Name"]?.stringValue ?? "",
                labels: secret["Spec"]?["Labels"]?.stringMap ?? [:])
        }
    }

    /// Creates a secret; its value travels base64 in the request body only.
    public func createSecret(_ name: String, value: Secret, labels: [String: String]) async throws(DockerError) {
        _ = try await post(
            "/secrets/create",
            body: .object([
                ("Name", .string(name)), ("Data", .string(Data(value.revealed.utf8).base64EncodedString())),
                ("Labels", .object(labels.keys.sorted().map { ($0, .string(labels[$0]!)) })),
            ]))
    }

    public func removeSecret(_ id: String) async throws(DockerError) {
        _ = try await delete("/secrets/\(id)")
    }

    /// Every service, or those with `label` (`key=value`): one call.
    public func services(label: String? = nil) async throws(DockerError) -> [SwarmService] {
        let query = label.map { [DockerClient.filters(["label": [$0]])] } ?? []
        return try await get("/services", query: query).arrayItems.map(Self.service)
    }

    public func service(_ id: String) async throws(DockerError) -> SwarmService {
        Self.service(try await get("/services/\(id)"))
    }

    static func service(_ item: JSONValue) -> SwarmService {
        SwarmService(
            id: item["ID"]?.stringValue ?? "", name: item["Spec"]?["Name"]?.stringValue ?? "", version: item["Version"]?["Index"]?.intValue ?? 0,
            spec: item["Spec"] ?? .object([]), previousSpec: item["PreviousSpec"], updateState: item["UpdateStatus"]?["State"]?.stringValue,
            updateMessage: item["UpdateStatus"]?["Message"]?.stringValue, updatedAt: item["UpdatedAt"]?.stringValue ?? "")
    }

    /// Creates a service from its spec (`docker service create`).
    public func createService(spec: JSONValue) async throws(DockerError) {
        _ = try await post("/services/create", body: spec)
    }

    /// Replaces a service's spec (`docker service update`).
    public func updateService(_ service: SwarmService, spec: JSONValue) async throws(DockerError) {
        _ = try await post("/services/\(service.id)/update", query: [("version", String(service.version))], body: spec)
    }

    /// Returns a service to its previous spec (`docker service rollback`).
    public func rollbackService(_ service: SwarmService) async throws(DockerError) {
        _ = try await post("/services/\(service.id)/update", query: [("version", String(service.version)), ("rollback", "previous")], body: service.spec)
    }

    public func removeService(_ id: String) async throws(DockerError) {
        _ = try await delete("/services/\(id)")
    }

    /// The tasks of some services (all services when empty): one call.
    public func tasks(services: [String] = []) async throws(DockerError) -> [SwarmTask] {
        let query = services.isEmpty ? [] : [DockerClient.filters(["service": services])]
        return try await get("/tasks", query: query).arrayItems.map { task in
            let status = task["Status"] ?? .null
            return SwarmTask(
                id: task["ID"]?.stringValue ?? "", serviceID: task["ServiceID"]?.stringValue ?? "", nodeID: task["NodeID"]?.stringValue ?? "",
                slot: task["Slot"]?.intValue, desiredState: task["DesiredState"]?.stringValue ?? "", state: status["State"]?.stringValue ?? "",
                error: status["Err"]?.stringValue, message: status["Message"]?.stringValue ?? "",
                exitCode: status["ContainerStatus"]?["ExitCode"]?.intValue, timestamp: status["Timestamp"]?.stringValue ?? "",
                spec: task["Spec"] ?? .null)
        }
    }

    /// Networks with a label, removed (a pruned stack's own networks).
    public func removeNetwork(_ id: String) async throws(DockerError) {
        _ = try await delete("/networks/\(id)")
    }
}
