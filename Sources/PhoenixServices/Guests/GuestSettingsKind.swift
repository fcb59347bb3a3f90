import PhoenixCore

/// The settings of each enabled guest (cores, memory, network, boot order, tags) through the
/// Proxmox API: the `guests` stage.
public struct GuestSettingsKind: ResourceKind {
    public let name = "guest-settings"
    public let stages: [SyncStage] = [.guests]

    public init() {}

    public static func id(_ guest: Int) -> String { Guest.resourceID(guest) }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.guests) else { return [] }
        return context.estate.guests.filter(\.enabled).map {
            ResourceNode(id: Self.id($0.id), kind: name, stage: .guests, target: .guest($0.id))
        }
    }
}
