/// The resources a set of stages should converge to: every rendered file, with a stable id, the
/// service it belongs to and what going live needs. Pure: the same estate gives the same resources.
public struct DesiredState: Sendable {
    public let resources: [Resource]
    /// Stages that were asked for but that this version plans without applying, with the reason.
    public let notApplied: [(stage: SyncStage, reason: String)]
    /// Notes from rendering (a stage with nothing to render, and why).
    public let notes: [String]

    public init(estate: Estate, stages: [SyncStage], nodeName: String) {
        let renderStages = stages.compactMap(Self.renderStage)
        let output = EstateRenderer(estate: estate, defaultNodeName: nodeName).render(renderStages)
        var resources: [Resource] = []
        for file in output.files {
            if let resource = Self.resource(for: file, estate: estate) { resources.append(resource) }
        }
        self.resources = resources.sorted { $0.id < $1.id }
        notApplied = stages.filter { !$0.isApplied }.map { stage in
            (stage, stage == .files || stage == .trust
                ? "planned for a later version of the sync engine; nothing is changed"
                : "needs the \(stage == .certs ? "Step-CA" : "Docker") client, which this version does not have; nothing is changed")
        }
        notes = output.notes
    }

    private static func renderStage(_ stage: SyncStage) -> RenderStage? {
        switch stage {
        case .dns: return .dns
        case .firewall: return .firewall
        case .services: return .services
        case .gateway: return .gateway
        case .files, .trust, .certs, .swarm, .stacks: return nil
        }
    }

    private static func resource(for file: RenderedFile, estate: Estate) -> Resource? {
        func make(_ id: String, _ unit: ServiceUnit, _ activation: Activation, _ origin: String) -> Resource {
            Resource(id: id, unit: unit, path: file.path, contents: file.contents, mode: file.mode, activation: activation, origin: origin)
        }
        let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
        switch file.target {
        case .report:
            return nil
        case .host where file.path == estate.dns.configFile:
            return make("dns:settings", .dnsmasq, .restart, "dns_server in \(estate.hypervisorFile)")
        case .host where file.path == estate.dns.recordsFile:
            return make("dns:records", .dnsmasq, .reload, "the guests' names and addresses, traefik_service names and stack Host rules")
        case .host where file.path.hasPrefix("/etc/pve/"):
            if name == "cluster.fw" { return make("firewall:cluster", .pveFirewall, .reload, "firewall in \(estate.hypervisorFile)") }
            if name == "host.fw" { return make("firewall:host", .pveFirewall, .reload, "firewall.enabled in \(estate.hypervisorFile)") }
            let id = name.hasSuffix(".fw") ? String(name.dropLast(3)) : name
            return make("firewall:guest/\(id)", .pveFirewall, .reload, "the firewall of guest \(id)")
        case .host:
            return nil
        case let .guest(id) where file.path == estate.settings.traefik.staticFile:
            return make("services:traefik-static", .traefik(guest: id), .restart, "phoenix.traefik in \(estate.hypervisorFile)")
        case let .guest(id) where file.path.hasPrefix(estate.settings.traefik.dynamicDirectory + "/"):
            return make("services:traefik-dynamic", .traefik(guest: id), .none, "the traefik_service of every guest and the stacks' Host rules")
        case let .guest(id) where file.path == estate.settings.gateway.siteFile:
            return make("gateway:site", .nginx(guest: id), .reload, "the service catalogue and phoenix.gateway")
        case let .guest(id) where file.path == estate.settings.gateway.streamFile:
            return make("gateway:stream", .nginx(guest: id), .reload, "phoenix.gateway.stream_listen and the Traefik mesh entry point")
        case .guest:
            return nil
        }
    }
}
