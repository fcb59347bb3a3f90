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
    /// Whose resource it is, for `--target`.
    public let owner: Owner

    /// One guest's own resource, or the estate's: built from many guests or shared by them (the DNS
    /// records, the Swarm's networks and stacks), which a run targeted at guests leaves as it is.
    public enum Owner: Sendable, Hashable {
        case guest(Int)
        case estate
    }

    /// `owner` defaults to the guest the resource lives in (the estate's when it lives on the host).
    public init(id: String, kind: String, stage: SyncStage, target: RenderedFile.Target, dependsOn: [String] = [], owner: Owner? = nil) {
        self.id = id
        self.kind = kind
        self.stage = stage
        self.target = target
        self.dependsOn = dependsOn
        if let owner {
            self.owner = owner
        } else if case let .guest(guest) = target {
            self.owner = .guest(guest)
        } else {
            self.owner = .estate
        }
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
/// and the kinds' settings (how the firewall is reached, what the files are rendered from).
public struct ResourceGraphContext: Sendable {
    public let estate: Estate
    public let stages: Set<SyncStage>
    public let options: KindOptions

    public init(estate: Estate, stages: Set<SyncStage>, options: KindOptions = KindOptions()) {
        self.estate = estate
        self.stages = stages
        self.options = options
    }
}

/// A kind of resource: declares the resources of the configuration it converges and what each one
/// depends on, from the configuration's data. No I/O.
public protocol ResourceKind: Sendable {
    var name: String { get }
    /// The stages its resources belong to: what `phoenix sync STAGE` names to converge them.
    var stages: [SyncStage] { get }
    func nodes(in context: ResourceGraphContext) -> [ResourceNode]
}

/// Every resource of a run and the dependencies between them. Dependencies on resources outside
/// the run (a stage not asked for) are dropped: only what runs together is ordered together.
public struct ResourceGraph: Sendable {
    /// Sorted by id.
    public let nodes: [ResourceNode]
    private let index: [String: Int]

    /// The configured resources a `scope` (`--target`) leaves out, by id, with their kinds: a
    /// targeted run touches none of them.
    public let excluded: [String: String]

    /// The resources `kinds` declare for `context` (the registered kinds: PhoenixServices' `KindRegistry`);
    /// with a `scope` (`--target`), only those of the guests it names.
    public init(context: ResourceGraphContext, kinds: [any ResourceKind], scope: GuestScope? = nil) {
        let all = kinds.flatMap { $0.nodes(in: context) }
        guard let scope else {
            self.init(nodes: all)
            return
        }
        let (kept, left) = (all.filter(scope.contains), all.filter { !scope.contains($0) })
        self.init(nodes: kept, excluded: Dictionary(left.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first }))
    }

    public init(nodes: [ResourceNode], excluded: [String: String] = [:]) {
        self.excluded = excluded
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
