import PhoenixCore
import PhoenixEngine

/// The firewall's rule sets through the Proxmox API (`--firewall-through api`): the cluster's and
/// each guest's, the latter after the guest's settings.
public struct FirewallRulesKind: ResourceKind {
    public let name = "firewall-rules"
    public let stages: [SyncStage] = [.firewall]

    public init() {}

    /// The guest a `firewall:guest/<id>` resource belongs to.
    public static func guest(of id: String) -> Int? {
        id.hasPrefix("firewall:guest/") ? Int(id.dropFirst("firewall:guest/".count)) : nil
    }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.options[FirewallThroughAPI.self], context.stages.contains(.firewall) else { return [] }
        var nodes: [ResourceNode] = []
        if context.estate.firewall.declared { nodes.append(ResourceNode(id: "firewall:cluster", kind: name, stage: .firewall, target: .host)) }
        for guest in context.estate.guests where guest.enabled && guest.firewall != nil {
            nodes.append(
                ResourceNode(
                    id: "firewall:guest/\(guest.id)", kind: name, stage: .firewall, target: .guest(guest.id),
                    dependsOn: [Guest.resourceID(guest.id)]))
        }
        return nodes
    }
}
