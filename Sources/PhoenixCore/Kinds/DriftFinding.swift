/// One resource in `phoenix drift`, for any kind: which side moved, and the detail that shows it.
public struct DriftFinding: Sendable, Equatable {
    public let id: String
    public let kind: String
    public let state: Drift
    /// What differs, in words (`replicas 3 → 1`, `mode 0644, not 0600`); empty when nothing does.
    public let detail: String

    public init(id: String, kind: String, state: Drift, detail: String = "") {
        self.id = id
        self.kind = kind
        self.state = state
        self.detail = detail
    }
}

/// One kind's drift: every resource's state, how the kind shows it (its member of the JSON document
/// and its lines for people), or why it could not be checked.
public struct KindDrift: Sendable {
    public let kind: String
    /// Every resource checked, in sync included.
    public var findings: [DriftFinding]
    /// Why the kind could not be checked at all: a failure (a check that cannot run is no "in sync").
    public var failure: ResourceFailure?
    /// Its member of `drift --format json` and that member's entries.
    public var member: String
    public var entries: [JSONValue]
    /// Its lines for people: what drifted, notes, and a closing line.
    public var lines: [String]
    /// Why the kind's resources were not compared at all (it has no drift check), when they were not.
    public var notChecked: String?

    public init(
        kind: String, findings: [DriftFinding] = [], failure: ResourceFailure? = nil, member: String = "", entries: [JSONValue] = [], lines: [String] = []
    ) {
        self.kind = kind
        self.findings = findings
        self.failure = failure
        self.member = member
        self.entries = entries
        self.lines = lines
    }

    /// A kind `drift` does not check: said in the output, never shown as in sync.
    public static func notChecked(kind: String, resources: Int) -> KindDrift {
        let reason = "the \(kind) kind has no drift check: only plan and sync compare its \(resources) resource\(resources == 1 ? "" : "s")"
        var drift = KindDrift(kind: kind, lines: ["\(kind): not checked: \(reason)"])
        drift.notChecked = reason
        return drift
    }

    public var drifted: [DriftFinding] { findings.filter(\.state.isDrift) }
    /// Resources whose state cannot be read: the check failed for them.
    public var uncheckable: [DriftFinding] { findings.filter { $0.state == .cannotCheck } }
}

/// A kind whose drift phoenix can check: what is there beside what phoenix last recorded and what
/// the configuration asks for.
public protocol DriftingKind: ConvergentKind {
    /// Every resource of the kind with its drift state (in sync included), from one observation,
    /// and how the kind shows it; nil when the kind has nothing to check in this estate.
    func drift(_ observation: Observation, in context: KindContext) async -> KindDrift?
}

/// A kind that `phoenix rollback RUN` can take back: the steps that put back what a run left.
public protocol RollbackKind: ConvergentKind {
    /// What is there for the resources run `run` left (read as `observe` reads: a rollback may
    /// touch resources the configuration no longer asks for).
    func observeRollback(to run: Int64, in context: KindContext) async throws(ResourceFailure) -> Observation
    /// The steps that make what is there what run `run` left (from the kind's records as of that
    /// run); a failure when it cannot (what it would need was never kept), naming why.
    func rollback(to run: Int64, _ observation: Observation, in context: KindContext) async throws(ResourceFailure) -> KindPlan<Change>
}

extension RollbackKind {
    public func observeRollback(to run: Int64, in context: KindContext) async throws(ResourceFailure) -> Observation {
        try await observe(in: context)
    }
}

/// A kind whose state phoenix shows (`status`, `swarm status`, `stacks status`, `certs status`): a
/// typed value, read now, that every output renders.
public protocol StatusKind: ResourceKind {
    associatedtype Status: Sendable
    /// What is there for every resource of the kind, beside what the configuration and the state
    /// store say; reads only.
    func status(in context: KindContext) async throws(ResourceFailure) -> Status
}

extension KindContext {
    /// The context of a read that converges nothing (a status): no run, no graph.
    public static func reading(_ estate: Estate, store: (any StateBackend)?) -> KindContext {
        KindContext(estate: estate, stages: [], graph: ResourceGraph(nodes: []), store: store)
    }
}
