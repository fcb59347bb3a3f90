import Foundation
import PhoenixCore
import PhoenixEngine

/// The Portainer agent (`portainer:agent`): one global Swarm service, `portainer_agent`, placed on
/// the agent VMs' nodes by the label the swarm stage keeps on them, its port published in host mode
/// on each. Created once and updated only when its spec changes (the spec hash is a label on the
/// service) — never removed and recreated on every run as the original's `docker rm -f` did.
public struct PortainerAgent: Sendable {
    public let desired: SwarmDesired
    public let settings: DockerSettings
    public var connections: SwarmConnections
    public var timeout: Double

    public static let serviceName = "portainer_agent"

    public init(estate: Estate, connections: SwarmConnections) {
        desired = SwarmDesired(estate: estate)
        settings = estate.settings.docker
        self.connections = connections
        timeout = estate.settings.docker.convergeTimeout
    }

    /// The service's spec without phoenix's label, and its hash.
    func spec() -> (spec: JSONValue, hash: String) {
        let mounts: [JSONValue] = settings.portainerAgentMounts.map { mount in
            let parts = mount.split(separator: ":", maxSplits: 1).map(String.init)
            return .object([("Type", .string("bind")), ("Source", .string(parts[0])), ("Target", .string(parts.count > 1 ? parts[1] : parts[0]))])
        }
        let body: [(key: String, value: JSONValue)] = [
            ("Name", .string(Self.serviceName)),
            (
                "TaskTemplate",
                .object([
                    ("ContainerSpec", .object([("Image", .string(settings.portainerAgentImage)), ("Mounts", .array(mounts))])),
                    ("Placement", .object([("Constraints", .array([.string("node.labels.\(SwarmDesired.agentLabel) == true")]))])),
                ])
            ),
            ("Mode", .object([("Global", .object([]))])),
            (
                "EndpointSpec",
                .object([
                    (
                        "Ports",
                        .array([
                            .object([
                                ("Protocol", .string("tcp")), ("TargetPort", .number(9001)), ("PublishedPort", .number(Double(settings.portainerAgentPort))),
                                ("PublishMode", .string("host")),
                            ])
                        ])
                    )
                ])
            ),
        ]
        let hash = String(Digest.sha256Hex(JSONWriter(sortedKeys: true, pretty: false).string(.object(body))).prefix(16))
        let labelled = body + [("Labels", .object([(StackCompose.specLabel, .string(hash)), ("io.phoenix.managed", .string("true"))]))]
        return (.object(labelled), hash)
    }

    /// What sync would do: nothing, create, or update (and why).
    public func item(services: [SwarmService]) -> StackDeployments.Item {
        var item = StackDeployments.Item(id: PortainerKind.agentID, namespace: Self.serviceName, action: .none, reasons: [])
        let outside = desired.agentVMs.filter { id in !desired.agents.contains { $0.vmid == id } }
        if !outside.isEmpty {
            item.problem = .invalid(
                reason: "VM \(outside.map(String.init).joined(separator: ", ")) has portainer_role agent but is not in the Swarm: give it swarm_role worker")
            item.outcome = .failed
            return item
        }
        let (_, hash) = spec()
        item.specHash = hash
        guard let service = services.first(where: { $0.name == Self.serviceName }) else {
            item.action = .deploy
            item.reasons = ["never deployed: a global service on \(desired.agents.map(\.name).joined(separator: ", "))"]
            return item
        }
        if service.labels[StackCompose.specLabel] != hash {
            item.action = .deploy
            let image = service.spec["TaskTemplate"]?["ContainerSpec"]?["Image"]?.stringValue ?? ""
            item.reasons = [
                image == settings.portainerAgentImage ? "its spec changed (mounts, port or placement)" : "image \(image) → \(settings.portainerAgentImage)"
            ]
        }
        return item
    }

    /// nil once a task of the current spec runs on every agent node; else why not, at the timeout.
    func waitRunning(_ client: any DockerEngine) async -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var status = "not created"
        while Date() < deadline {
            if let service = try? await client.services().first(where: { $0.name == Self.serviceName }),
                let tasks = try? await client.tasks(services: [service.id])
            {
                let template = service.spec["TaskTemplate"] ?? .null
                let running = tasks.filter { $0.desiredState == "running" && $0.state == "running" && StackDeployments.made(from: template, $0.spec) }
                let errors = tasks.filter { ["failed", "rejected"].contains($0.state) }.suffix(2).map { $0.error ?? $0.message }
                status = "\(running.count)/\(desired.agents.count) agent tasks running" + (errors.isEmpty ? "" : ": \(errors.joined(separator: "; "))")
                if running.count >= desired.agents.count && (service.updateState == nil || service.updateState == "completed") { return nil }
            }
            try? await Task.sleep(nanoseconds: 500_000_000)
        }
        return "did not converge within \(Int(timeout)) s: \(status)"
    }
}
