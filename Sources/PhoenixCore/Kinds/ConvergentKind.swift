/// A kind of resource phoenix converges, whole: the resources and their dependencies (from data,
/// `ResourceKind`), one bulk observe, a diff into steps with typed reasons, and for one step its
/// apply, verify, restore and record. Everything that is the same for every kind — the journal,
/// the failpoints, waiting for dependencies, bounded parallelism and per-target limits, restore on a
/// failed check, blocking dependents, outcomes, dry run, the stats — belongs to the executor
/// (PhoenixEngine's `Executor`), which knows this protocol and never a kind.
///
/// docs/adding-a-kind.md walks through writing one.
public protocol ConvergentKind: ResourceKind {
    /// What one bulk read found (per target, all at once).
    associatedtype Observation: Sendable
    /// What a step changes: the kind's own description of it.
    associatedtype Change: Sendable
    /// What `prepare` makes ready for apply without touching what is live (Void when nothing).
    associatedtype Prepared: Sendable = Void
    /// What an apply leaves for verify, restore and record (Void when nothing).
    associatedtype Applied: Sendable = Void

    /// The stage a resource of this kind belongs to when it has no node (for results rebuilt from
    /// a plan): most kinds have one.
    var stage: SyncStage { get }

    /// Reads what is there for every resource of this kind in the run, in as few round trips as the
    /// systems allow. A failure here means the kind cannot plan at all.
    func observe(in context: KindContext) async throws(ResourceFailure) -> Observation

    /// Compares the configuration with what was observed (and with what the state store recorded):
    /// the steps to take, and every resource that needs none or cannot be decided.
    func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Change>

    /// Gets one step's change ready without touching what is live: stages and tests new files,
    /// signs a certificate, notes the tasks a stack has before its deploy. A failure here changed
    /// nothing: there is nothing to restore. The `before` failpoint comes after it.
    func prepare(_ step: Step<Change>, in context: StepContext) async throws(ResourceFailure) -> Prepared

    /// Makes the change of one step live.
    func apply(_ step: Step<Change>, prepared: Prepared, in context: StepContext) async throws(ResourceFailure) -> Applied

    /// Checks that the change took: reads it back, probes the service.
    func verify(_ step: Step<Change>, applied: Applied, in context: StepContext) async throws(ResourceFailure)

    /// Puts back what the step replaced after `failure` (`applied` is nil when apply itself failed,
    /// which may have changed part of it). Nil: this kind does not restore — the change stays as it
    /// is and the next run converges it.
    func restore(_ step: Step<Change>, applied: Applied?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome?

    /// Records a verified step in the state store (what the next plan compares with), and does what
    /// follows a verified change (a reboot it waits for). A failure here fails the step without
    /// undoing it: the change itself was verified.
    func record(_ step: Step<Change>, applied: Applied, in context: StepContext) async throws(ResourceFailure)

    /// The fingerprint the journal keeps for a step once applied and verified (the step's planned
    /// `newDigest` unless the kind learns it only when it applies: a new certificate's).
    func journalDigest(_ step: Step<Change>, applied: Applied) -> String?

    /// After every step of a sync ended: what spans the kind's resources (records written at once,
    /// a last bulk read). Returns lines for people, kept as the plan's notes. A failure is the
    /// kind's, not one resource's.
    func finish(
        _ observation: Observation, results: [ResourceResult], applied: [String: Applied], in context: KindContext
    ) async throws(ResourceFailure)
        -> [String]

    /// Why `rollback` leaves what this kind changed since a run as it is, when the kind has no
    /// rollback (`ids`: what it changed, the run: the one rolled back to): a note for people.
    func notRestored(_ ids: [String], since run: Int64) -> String
}

extension ConvergentKind {
    public var stages: [SyncStage] { [stage] }

    public func journalDigest(_ step: Step<Change>, applied: Applied) -> String? { step.newDigest }

    public func notRestored(_ ids: [String], since run: Int64) -> String {
        "\(ids.joined(separator: ", ")) (changed since run \(run)) stay as they are: the \(name) kind has no rollback"
    }

    public func finish(
        _ observation: Observation, results: [ResourceResult], applied: [String: Applied], in context: KindContext
    ) async throws(ResourceFailure) -> [String] { [] }
}

extension ConvergentKind where Prepared == Void {
    public func prepare(_ step: Step<Change>, in context: StepContext) async throws(ResourceFailure) {}
}

extension ConvergentKind where Applied == Void {
    public func record(_ step: Step<Change>, applied: Void, in context: StepContext) async throws(ResourceFailure) {}
}

/// A resource of a run that has settled: converged, failed, or left unchanged (its outcome as
/// the run records spell it), with why it failed.
public struct ResourceSettled: Sendable, Equatable {
    public let id: String
    public let kind: String
    public let outcome: String
    public let reason: String?

    public init(id: String, kind: String, outcome: String, reason: String? = nil) {
        self.id = id
        self.kind = kind
        self.outcome = outcome
        self.reason = reason
    }
}

/// What the kinds see while they observe, plan and apply: the configuration, the run, the store.
public struct KindContext: Sendable {
    public let estate: Estate
    public let stages: Set<SyncStage>
    /// Every resource of the run and what it needs.
    public let graph: ResourceGraph
    /// Nil only for a plan without a state store yet.
    public let store: (any StateBackend)?
    /// Nil when planning.
    public let run: Int64?
    /// Resources an interrupted run announced and never finished.
    public let unfinished: Set<String>
    /// `--target`: only these guests' own resources (nil: all).
    public let scope: GuestScope?
    public let stats: RunStats
    /// Progress lines for people (stderr in the CLI).
    public let progress: @Sendable (String) -> Void
    /// In a run: waits until a resource of another kind is done (nil when it converged or is not in
    /// the run, else why not), for a kind whose observation needs it (the Swarm's secrets fed by a
    /// certificate this run renews). Nil when planning: nothing converges then.
    public let waitFor: (@Sendable (String) async -> ResourceError?)?
    /// In a run: asks it to stop before the next resource starts (nil: it runs to the end).
    public let control: RunControl?
    /// In a run: told as each resource settles (the dashboard's live run page).
    public let settled: (@Sendable (ResourceSettled) -> Void)?

    public init(
        estate: Estate, stages: Set<SyncStage>, graph: ResourceGraph, store: (any StateBackend)?, run: Int64? = nil, unfinished: Set<String> = [],
        scope: GuestScope? = nil, stats: RunStats = RunStats(), progress: @escaping @Sendable (String) -> Void = { _ in },
        waitFor: (@Sendable (String) async -> ResourceError?)? = nil, control: RunControl? = nil, settled: (@Sendable (ResourceSettled) -> Void)? = nil
    ) {
        self.control = control
        self.settled = settled
        self.estate = estate
        self.stages = stages
        self.graph = graph
        self.store = store
        self.run = run
        self.unfinished = unfinished
        self.scope = scope
        self.stats = stats
        self.progress = progress
        self.waitFor = waitFor
    }

    /// How the store fingerprints contents (unkeyed without a store).
    public var digests: ContentDigests { store?.digests ?? ContentDigests(key: nil) }
}

/// What one step sees while the executor applies it: the kind's context, the run's store, the
/// step's own counters, and a way to wait for a resource of the run it needs half-way (a
/// certificate's reload waits for the service configuration that names its files).
public struct StepContext: Sendable {
    public let kind: KindContext
    public let store: any StateBackend
    public let run: Int64
    /// This step's own counts (its calls, writes, reloads); the executor adds them to the run's.
    public let stats: RunStats
    /// Waits until `id` is done in this run: nil when it converged (or is not in the run), else why
    /// not. The step gives up its slot while it waits, so what it waits for can run.
    public let waitFor: @Sendable (String) async -> ResourceError?
    /// Settles one of the step's companions now (a certificate's files, in place before its reload).
    public let settle: @Sendable (String, ResourceError?) async -> Void
    /// A point of the kind's own between apply's parts where a failpoint may stop the step
    /// (`installed`): it throws the injected failure, or ends the run here for a crash.
    public let checkpoint: @Sendable (String) throws(ResourceFailure) -> Void

    public init(
        kind: KindContext, store: any StateBackend, run: Int64, stats: RunStats = RunStats(),
        waitFor: @escaping @Sendable (String) async -> ResourceError? = { _ in nil },
        settle: @escaping @Sendable (String, ResourceError?) async -> Void = { _, _ in },
        checkpoint: @escaping @Sendable (String) throws(ResourceFailure) -> Void = { _ in }
    ) {
        self.kind = kind
        self.store = store
        self.run = run
        self.stats = stats
        self.waitFor = waitFor
        self.settle = settle
        self.checkpoint = checkpoint
    }

    public var estate: Estate { kind.estate }
    public func say(_ line: String) { kind.progress(line) }
}

/// One change the executor makes: the resources that go live together (one file's unit, one
/// guest, one stack), what they are changed by, and why.
public struct Step<Change: Sendable>: Sendable {
    /// The resources journalled and settled together; the first names the step.
    public let resources: [String]
    /// Steps on one target go one at a time when the kind limits them (`ExecutionLimits`).
    public let target: String
    public let action: ChangeAction
    public let reasons: [ChangeReason]
    /// The journal's fingerprints of before and after (never the contents).
    public let previousDigest: String?
    public let newDigest: String?
    /// The journal's words for the intent.
    public let detail: String
    public let change: Change
    /// Resources of the kind this step settles itself (`StepContext.settle`), not journalled: a
    /// certificate's files, which a service configuration waits for before the step reloads it.
    /// Any not settled when the step ends take its outcome — or none, when `companionsKeptOnFailure`
    /// (they were in place before the step and still are after a failure).
    public var companions: [String] = []
    public var companionsKeptOnFailure = false
    /// A resource's own journal words and fingerprints, where they are not the step's (each file
    /// of a unit has its own).
    public var journalNotes: [String: JournalNote] = [:]

    public init(
        resources: [String], target: String, action: ChangeAction, reasons: [ChangeReason], previousDigest: String? = nil, newDigest: String? = nil,
        detail: String = "", change: Change
    ) {
        precondition(!resources.isEmpty, "a step changes at least one resource")
        self.resources = resources
        self.target = target
        self.action = action
        self.reasons = reasons
        self.previousDigest = previousDigest
        self.newDigest = newDigest
        self.detail = detail
        self.change = change
    }

    public var id: String { resources[0] }
}

/// One resource's journal words and fingerprints within a step.
public struct JournalNote: Sendable, Equatable {
    public let previousDigest: String?
    public let newDigest: String?
    public let detail: String

    public init(previousDigest: String?, newDigest: String?, detail: String) {
        self.previousDigest = previousDigest
        self.newDigest = newDigest
        self.detail = detail
    }
}

/// A kind's plan: the steps, and every other resource with why it needs none.
public struct KindPlan<Change: Sendable>: Sendable {
    public var steps: [Step<Change>]
    /// Resources as configured.
    public var unchanged: [String]
    /// Resources nothing can be decided about (their state cannot be read, the configuration cannot
    /// be applied as written): they fail, and what needs them is blocked.
    public var failed: [String: ResourceFailure]
    /// Lines for people that belong to no one resource.
    public var notes: [String]

    public init(steps: [Step<Change>] = [], unchanged: [String] = [], failed: [String: ResourceFailure] = [:], notes: [String] = []) {
        self.steps = steps
        self.unchanged = unchanged
        self.failed = failed
        self.notes = notes
    }

    public var hasChanges: Bool { !steps.isEmpty }

    /// The plan without what `graph` leaves out (`--target`): no step that touches any of it.
    public func within(_ graph: ResourceGraph) -> KindPlan {
        func kept(_ id: String) -> Bool { graph.excluded[id] == nil }
        return KindPlan(
            steps: steps.filter { $0.resources.allSatisfy(kept) && $0.companions.allSatisfy(kept) }, unchanged: unchanged.filter(kept),
            failed: failed.filter { kept($0.key) }, notes: notes)
    }
}

/// How many steps of a kind the executor runs at once.
public struct ExecutionLimits: Sendable, Equatable {
    /// At most this many steps at once.
    public var parallelism: Int
    /// At most this many at once on one target (nil: no limit beyond `parallelism`).
    public var perTarget: Int?

    public init(parallelism: Int = 4, perTarget: Int? = nil) {
        self.parallelism = max(1, parallelism)
        self.perTarget = perTarget.map { max(1, $0) }
    }
}
