/// One thing phoenix manages, as the resource graph sees it: a stable id (`dns:records`,
/// `guest:101`, `firewall:guest/101`), the kind that converges it, its stage, where it lives and
/// the resources it needs converged first.
public struct ResourceNode: Sendable, Hashable {
    public let id: String
    /// The kind's name: `file`, `guest-settings`, `firewall-rules`.
    public let kind: String
    public let stage: SyncStage
    public let target: RenderedFile.Target
    public var dependsOn: [String]

    public init(id: String, kind: String, stage: SyncStage, target: RenderedFile.Target, dependsOn: [String] = []) {
        self.id = id
        self.kind = kind
        self.stage = stage
        self.target = target
        self.dependsOn = dependsOn
    }

    /// `host`, `guest/101`: where the resource lives, for output.
    public var targetName: String {
        switch target {
        case .host: return "host"
        case let .guest(id): return "guest/\(id)"
        case .report: return "report"
        }
    }
}

/// What the kinds see when they declare their resources: the configuration, the stages asked for
/// and how they are reached.
public struct ResourceGraphContext: Sendable {
    public let estate: Estate
    public let stages: Set<SyncStage>
    /// The file resources of those stages (rendered, as sync would install them).
    public let files: [Resource]
    /// The firewall converges through the Proxmox API (its rule sets are `firewall-rules`, not files).
    public let firewallThroughAPI: Bool

    public init(estate: Estate, stages: Set<SyncStage>, files: [Resource], firewallThroughAPI: Bool = false) {
        self.estate = estate
        self.stages = stages
        self.files = files
        self.firewallThroughAPI = firewallThroughAPI
    }
}

/// A kind of resource: declares the resources of the configuration it converges and what each one
/// depends on, from the configuration's data. No I/O.
public protocol ResourceKind: Sendable {
    var name: String { get }
    func nodes(in context: ResourceGraphContext) -> [ResourceNode]
}

/// Every resource of a run and the dependencies between them. Dependencies on resources outside
/// the run (a stage not asked for) are dropped: only what runs together is ordered together.
public struct ResourceGraph: Sendable {
    /// Sorted by id.
    public let nodes: [ResourceNode]
    private let index: [String: Int]

    /// The resources `kinds` declare for `context` (the registered kinds: PhoenixServices' `KindRegistry`).
    public init(context: ResourceGraphContext, kinds: [any ResourceKind]) {
        self.init(nodes: kinds.flatMap { $0.nodes(in: context) })
    }

    public init(nodes: [ResourceNode]) {
        let ids = Set(nodes.map(\.id))
        var kept: [String: ResourceNode] = [:]
        for var node in nodes {
            node.dependsOn = Array(Set(node.dependsOn.filter { ids.contains($0) && $0 != node.id })).sorted()
            kept[node.id] = node
        }
        self.nodes = kept.values.sorted { $0.id < $1.id }
        index = Dictionary(uniqueKeysWithValues: self.nodes.enumerated().map { ($1.id, $0) })
    }

    public func node(_ id: String) -> ResourceNode? { index[id].map { nodes[$0] } }

    /// The resources that need `id` (directly).
    public func dependents(of id: String) -> [String] {
        nodes.filter { $0.dependsOn.contains(id) }.map(\.id)
    }

    /// The nodes in an order where each comes after what it depends on (ties by id); nodes on a
    /// cycle are left out and listed by `cycle`.
    public var order: [String] {
        var remaining = Dictionary(uniqueKeysWithValues: nodes.map { ($0.id, Set($0.dependsOn)) })
        var order: [String] = []
        while true {
            let ready = remaining.filter { $0.value.isEmpty }.keys.sorted()
            guard !ready.isEmpty else { break }
            for id in ready { remaining[id] = nil }
            for key in remaining.keys { remaining[key]!.subtract(ready) }
            order += ready
        }
        return order
    }

    /// Resources that depend on each other in a circle (none with the kinds phoenix has).
    public var cycle: [String] {
        let placed = Set(order)
        return nodes.map(\.id).filter { !placed.contains($0) }
    }

    /// The longest chain of dependencies when each resource costs `cost(id)`: the least time a walk
    /// with unlimited parallelism can take.
    public func criticalPath(_ cost: (ResourceNode) -> Double) -> Double {
        var finish: [String: Double] = [:]
        for id in order {
            let node = self.node(id)!
            finish[id] = (node.dependsOn.compactMap { finish[$0] }.max() ?? 0) + cost(node)
        }
        return finish.values.max() ?? 0
    }
}

/// The files of the host-side stages (dnsmasq, the firewall's .fw files, Traefik, the gateway, the
/// trust store, the stack files). A file in a guest needs that guest's settings converged first;
/// the gateway's files need the Traefik resources of the ingress they proxy to. A guest's `.fw`
/// file lives on the host and needs nothing of the guest (its rule set through the API does).
public struct FileKind: ResourceKind {
    public let name = "file"

    public init() {}

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        let ingress = Ingress(estate: context.estate).guest?.id
        let traefik = context.files.filter { $0.stage == .services && $0.target == ingress.map(RenderedFile.Target.guest) }.map(\.id)
        // A service configuration that names a certificate's files in its guest needs them installed
        // first (nginx -t loads them): `cert:<name>/files`, settled once the files are in place.
        var certificates: [Int: [CertificateRequest]] = [:]
        if context.stages.contains(.certs) {
            for request in context.estate.certificates {
                if let guest = request.guestID { certificates[guest, default: []].append(request) }
            }
        }
        return context.files.compactMap { resource in
            if context.firewallThroughAPI && resource.stage == .firewall { return nil }
            var needs: [String] = []
            if case let .guest(id) = resource.target {
                needs.append(GuestSettingsKind.id(id))
                for request in certificates[id] ?? [] {
                    let paths = [request.guestCertPath, request.guestKeyPath, request.guestCAPath].compactMap { $0 }
                    if paths.contains(where: resource.contents.contains) { needs.append(CertKind.filesID(request.commonName)) }
                }
            }
            if resource.stage == .gateway { needs += traefik }
            return ResourceNode(id: resource.id, kind: name, stage: resource.stage, target: resource.target, dependsOn: needs)
        }
    }
}

/// The settings of each enabled guest (cores, memory, network, boot order, tags) through the
/// Proxmox API: the `guests` stage.
public struct GuestSettingsKind: ResourceKind {
    public let name = "guest-settings"

    public init() {}

    public static func id(_ guest: Int) -> String { "guest:\(guest)" }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.stages.contains(.guests) else { return [] }
        return context.estate.guests.filter(\.enabled).map {
            ResourceNode(id: Self.id($0.id), kind: name, stage: .guests, target: .guest($0.id))
        }
    }
}

/// The firewall's rule sets through the Proxmox API (`--firewall-through api`): the cluster's and
/// each guest's, the latter after the guest's settings.
public struct FirewallRulesKind: ResourceKind {
    public let name = "firewall-rules"

    public init() {}

    /// The guest a `firewall:guest/<id>` resource belongs to.
    public static func guest(of id: String) -> Int? {
        id.hasPrefix("firewall:guest/") ? Int(id.dropFirst("firewall:guest/".count)) : nil
    }

    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] {
        guard context.firewallThroughAPI, context.stages.contains(.firewall) else { return [] }
        var nodes: [ResourceNode] = []
        if context.estate.firewall.declared { nodes.append(ResourceNode(id: "firewall:cluster", kind: name, stage: .firewall, target: .host)) }
        for guest in context.estate.guests where guest.enabled && guest.firewall != nil {
            nodes.append(
                ResourceNode(
                    id: "firewall:guest/\(guest.id)", kind: name, stage: .firewall, target: .guest(guest.id),
                    dependsOn: [GuestSettingsKind.id(guest.id)]))
        }
        return nodes
    }
}
