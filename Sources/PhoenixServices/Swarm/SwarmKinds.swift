import PhoenixCore

/// The Swarm's resources (`swarm` stage): each member's node (`swarm:node/<vm name>`: initialised
/// or joined, its labels), the overlay networks and the secrets the stacks use. A worker's node
/// needs the manager's; networks and secrets need the manager; a node needs its VM's settings.
public struct SwarmKind: ResourceKind {
    public let name = "swarm"
    public let stages: [SyncStage] = [.swarm]

    public init() {}

    public static func networkID(_ network: String) -> String { SwarmDesired.networkID(network) }
    public static func secretID(_ secret: String) -> String { SwarmDesired.secretID(secret) }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.swarm) else { return [] }
        let desired = SwarmDesired(estate: context.estate)
        guard let manager = desired.manager else { return [] }
        var nodes = [
            ResourceNode(id: manager.resourceID, kind: name, stage: .swarm, target: .guest(manager.vmid), dependsOn: [Guest.resourceID(manager.vmid)])
        ]
        for worker in desired.workers {
            nodes.append(
                ResourceNode(
                    id: worker.resourceID, kind: name, stage: .swarm, target: .guest(worker.vmid),
                    dependsOn: [manager.resourceID, Guest.resourceID(worker.vmid)]))
        }
        for network in desired.networks.keys {
            nodes.append(
                ResourceNode(
                    id: Self.networkID(network), kind: name, stage: .swarm, target: .guest(manager.vmid), dependsOn: [manager.resourceID], owner: .estate))
        }
        let feeds = CertSecretFeed.all(in: context.estate)
        for secret in desired.secrets.keys {
            // A secret fed by a certificate needs it issued first (its value is the certificate's).
            let needs = [manager.resourceID] + (feeds[secret].map { [$0.request.resourceID] } ?? [])
            nodes.append(ResourceNode(id: Self.secretID(secret), kind: name, stage: .swarm, target: .guest(manager.vmid), dependsOn: needs, owner: .estate))
        }
        return nodes
    }
}

/// The application stacks (`stacks` stage): `stack:<env>/<stack>`, deployed on the manager; each
/// needs the swarm, the networks and the secrets its compose file declares external.
public struct StackKind: ResourceKind {
    public let name = "stack"
    public let stages: [SyncStage] = [.stacks]

    public init() {}

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.stacks) else { return [] }
        let desired = SwarmDesired(estate: context.estate)
        guard let manager = desired.manager else { return [] }
        return desired.stacks.filter { $0.stage == .stacks }.map { stack in
            ResourceNode(
                id: stack.resourceID, kind: name, stage: .stacks, target: .guest(manager.vmid),
                dependsOn: [manager.resourceID] + stack.externalNetworks.map(SwarmKind.networkID) + stack.externalSecrets.map(SwarmKind.secretID),
                owner: .estate)
        }
    }
}

/// Portainer (`services` stage, its Portainer half): the server as the stack the primary VM lists
/// (`portainer:server`, needing what any stack needs) and the agent as a Swarm service on the agent
/// VMs' nodes (`portainer:agent`, needing their nodes: phoenix places it by a node label).
public struct PortainerKind: ResourceKind {
    public let name = "portainer"
    public let stages: [SyncStage] = [.services]

    public init() {}

    public static let serverID = SwarmDesired.portainerServerID
    public static let agentID = SwarmDesired.portainerAgentID

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.services) else { return [] }
        let desired = SwarmDesired(estate: context.estate)
        guard let manager = desired.manager else { return [] }
        var nodes: [ResourceNode] = []
        if let server = desired.stacks.first(where: { $0.stage == .services }) {
            nodes.append(
                ResourceNode(
                    id: Self.serverID, kind: name, stage: .services, target: .guest(manager.vmid),
                    dependsOn: [manager.resourceID] + server.externalNetworks.map(SwarmKind.networkID) + server.externalSecrets.map(SwarmKind.secretID),
                    owner: .estate))
        }
        if !desired.agentVMs.isEmpty {
            nodes.append(
                ResourceNode(
                    id: Self.agentID, kind: name, stage: .services, target: .guest(manager.vmid),
                    dependsOn: [manager.resourceID] + desired.agents.map(\.resourceID), owner: .estate))
        }
        return nodes
    }
}
