import Foundation

/// One kind's part of `plan`, `sync`, `drift` and `rollback`: it observes and plans its resources,
/// converges them in the run, and waits — through the run's context — for the resources of other
/// kinds that its own need (the graph's edges). The sync service knows only this protocol: a new
/// kind is a new runner in its list, not a new branch in the service. A `ConvergentKind` becomes
/// one through PhoenixEngine's `ExecutedRunner`.
public protocol KindRunner: Sendable {
    /// The kind whose resources this runner converges (and declares in the resource graph).
    var kind: any ResourceKind { get }
    /// What sync would do. Changes nothing.
    func plan(_ context: KindContext) async throws -> any KindReport
    /// Converges within the run; settles each of its resources with `context.resources` when done.
    func sync(_ context: RunContext) async throws -> any KindReport
    /// Its resources beside what phoenix recorded and what the configuration asks (nil: this
    /// runner checks no drift).
    func drift(_ context: KindContext) async throws -> KindDrift?
    /// Puts back what run `run` left (nil: this runner has no rollback; the service says so).
    func rollback(to run: Int64, _ context: RunContext) async throws -> (any KindReport)?
    /// Whether `drift` checks this kind's resources (a kind without a drift check is named as not
    /// checked, never passed over as in sync).
    var checksDrift: Bool { get }
    /// Why `rollback` leaves what this runner's kind changed since `run` as it is (a kind without
    /// a rollback: a note for people).
    func notRestored(_ ids: [String], since run: Int64) -> String
}

extension KindRunner {
    public func drift(_ context: KindContext) async throws -> KindDrift? { nil }
    public var checksDrift: Bool { false }

    public func notRestored(_ ids: [String], since run: Int64) -> String {
        "\(ids.joined(separator: ", ")) (changed since run \(run)) stay as they are: the \(kind.name) kind has no rollback"
    }
    public func rollback(to run: Int64, _ context: RunContext) async throws -> (any KindReport)? { nil }
}

/// What one kind found or did, in the terms the service and the printers share.
public protocol KindReport: Sendable {
    var kind: String { get }
    /// Why the kind could not run at all (its system cannot be read), typed, when it could not.
    var failure: ResourceFailure? { get }
    var hasChanges: Bool { get }
    /// For the run's summary in `history`; nil when it did nothing worth saying.
    var summary: String? { get }
    /// Its member of the JSON document (nil: none).
    var json: (key: String, value: JSONValue)? { get }
    /// Its lines for people (`verbose`: also what is as configured).
    func lines(verbose: Bool) -> [String]
    /// Every resource of the kind with its typed outcome (empty for a runner not on the executor yet).
    var results: [ResourceResult] { get }
    /// A failpoint crash abandoned the run in this kind (in-process tests only).
    var abandoned: Bool { get }
    /// Its part of the output for people (by default its lines).
    func text(verbose: Bool, context: ReportContext) -> String
    /// The JSON document with its part (by default its member added).
    func merge(into document: JSONValue, context: ReportContext) -> JSONValue
}

/// What every kind's part of a plan's or a run's output is rendered with.
public struct ReportContext: Sendable {
    /// The run (nil: a plan), and the interrupted runs it finishes.
    public let run: Int64?
    public let interrupted: [RunRecord]
    public let paint: Paint

    public init(run: Int64?, interrupted: [RunRecord], paint: Paint) {
        self.run = run
        self.interrupted = interrupted
        self.paint = paint
    }
}

extension KindReport {
    public var results: [ResourceResult] { [] }

    /// Why the kind could not run at all, in words (its `failure`).
    public var error: String? { failure?.description }

    /// Its resources that failed or were blocked, with their typed errors (from `results`). A
    /// resource that is not applied here yet (its kind says why) is no failure.
    public var failures: [String: ResourceError] {
        Dictionary(
            results.compactMap { result in
                result.failure.flatMap { error in
                    if case .notApplied = error.failure { return nil }
                    return (result.id, error)
                }
            }, uniquingKeysWith: { first, _ in first })
    }
    public var abandoned: Bool { false }

    /// Its part of the output for people: its lines.
    public func text(verbose: Bool, context: ReportContext) -> String { lines(verbose: verbose).map { $0 + "\n" }.joined() }

    /// The JSON document with its part: its member added.
    public func merge(into document: JSONValue, context: ReportContext) -> JSONValue {
        guard let member = json, case let .object(members) = document else { return document }
        return .object(members + [member])
    }
}

/// The run every kind converges in, and how they meet: the kinds' context of the run (its store,
/// graph and id) and the waiter that hears when each resource is done.
public struct RunContext: Sendable {
    public let kind: KindContext
    public let interrupted: [RunRecord]
    public let resources: ResourceWaiter

    public init(kind: KindContext, interrupted: [RunRecord], resources: ResourceWaiter) {
        precondition(kind.store != nil && kind.run != nil, "a run's context has its store and run id")
        self.kind = kind
        self.interrupted = interrupted
        self.resources = resources
    }

    public var run: Int64 { kind.run! }
    public var store: any StateBackend { kind.store! }
    public var graph: ResourceGraph { kind.graph }
    /// Resources an interrupted run announced and never finished.
    public var unfinished: Set<String> { kind.unfinished }
}

/// Hears when each resource of a run is done, for what waits on a few resources only (the files in
/// a guest on that guest's settings, a guest's rule set on its guest).
public actor ResourceWaiter {
    private var done: [String: ResourceError?] = [:]
    /// Kinds that ended: a resource of theirs not settled by then failed for this reason (nil: it
    /// is left as it is, which is what a resource that needs it finds).
    private var ended: [String: ResourceError?] = [:]
    private let kindOf: [String: String]
    private var waiting: [(ids: Set<String>, continuation: CheckedContinuation<[String: ResourceError], Never>)] = []

    /// `graph`: which kind each resource belongs to (what `failAll(kind:)` settles).
    public init(graph: ResourceGraph) {
        kindOf = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0.kind) })
    }

    /// Resource `id` is done: nil when it converged (or needed nothing), else why it failed.
    public func settle(_ id: String, _ error: ResourceError?) {
        done[id] = done[id] ?? error
        resume()
    }

    /// The kind is over: every resource of it not settled yet failed with `failure`.
    public func failAll(kind: String, _ failure: ResourceFailure) {
        ended[kind] = .some(ResourceError(failure))
        resume()
    }

    /// The kind is over and leaves every resource of it not settled as it is (a rollback of a kind
    /// that has none): what needs them goes on with what is there.
    public func leaveAll(kind: String) {
        ended[kind] = .some(nil)
        resume()
    }

    /// Waits until every one of `ids` is done; returns those that failed, with their errors. A
    /// resource no kind of this run converges is not waited for.
    public func errors(waitingFor ids: Set<String>) async -> [String: ResourceError] {
        if let failures = failures(ids) { return failures }
        return await withCheckedContinuation { continuation in waiting.append((ids, continuation)) }
    }

    private func failures(_ ids: Set<String>) -> [String: ResourceError]? {
        var failures: [String: ResourceError] = [:]
        for id in ids {
            if let outcome = done[id] {
                if let failure = outcome { failures[id] = failure }
            } else if let kind = kindOf[id] {
                guard let reason = ended[kind] else { return nil }
                if let reason { failures[id] = reason }
            }
        }
        return failures
    }

    private func resume() {
        var still: [(ids: Set<String>, continuation: CheckedContinuation<[String: ResourceError], Never>)] = []
        for entry in waiting {
            if let failures = failures(entry.ids) { entry.continuation.resume(returning: failures) } else { still.append(entry) }
        }
        waiting = still
    }
}
