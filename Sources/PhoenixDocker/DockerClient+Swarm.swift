import Foundation
import PhoenixCore

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
    public func initSwarm(advertise: String, listen: String) async throws(DockerError) -> String {
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
    public func joinSwarm(manager: String, token: Secret, advertise: String, listen: String) async throws(DockerError) {
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

    public func removeNode(_ id: String, force: Bool) async throws(DockerError) {
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
    public func services(label: String?) async throws(DockerError) -> [SwarmService] {
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
    public func tasks(services: [String]) async throws(DockerError) -> [SwarmTask] {
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
