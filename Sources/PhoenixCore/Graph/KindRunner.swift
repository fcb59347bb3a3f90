import Foundation

/// One kind's part of `plan` and `sync`: it observes and plans its resources, converges them in
/// the run, and waits — through the run's context — for the resources of other kinds that its own
/// need (the graph's edges). The sync service knows only this protocol: a new kind is a new
/// runner in its list, not a new branch in the service.
public protocol KindRunner: Sendable {
    /// The kind whose resources this runner converges (and declares in the resource graph).
    var kind: any ResourceKind { get }
    /// What sync would do. Changes nothing.
    func plan(store: (any StateBackend)?) async throws -> any KindReport
    /// Converges within the run; settles each of its resources with `context.resources` when done.
    func sync(_ context: RunContext) async throws -> any KindReport
}

/// What one kind found or did, in the terms the service and the printers share.
public protocol KindReport: Sendable {
    var kind: String { get }
    /// Its resources that failed or were blocked, with why.
    var failures: [String: String] { get }
    /// Why the kind could not run at all (its API failed), when it could not.
    var error: String? { get }
    var hasChanges: Bool { get }
    /// For the run's summary in `history`; nil when it did nothing worth saying.
    var summary: String? { get }
    /// Its member of the JSON document (nil: none).
    var json: (key: String, value: JSONValue)? { get }
    /// Its lines for people (`verbose`: also what is as configured).
    func lines(verbose: Bool) -> [String]
}

/// The run every kind converges in, and how they meet: the resource graph of the run and the
/// waiter that hears when each resource is done.
public struct RunContext: Sendable {
    public let run: Int64
    public let interrupted: [RunRecord]
    /// Resources an interrupted run announced and never finished.
    public let unfinished: Set<String>
    public let store: any StateBackend
    public let graph: ResourceGraph
    public let resources: ResourceWaiter

    public init(run: Int64, interrupted: [RunRecord], unfinished: Set<String>, store: any StateBackend, graph: ResourceGraph, resources: ResourceWaiter) {
        self.run = run
        self.interrupted = interrupted
        self.unfinished = unfinished
        self.store = store
        self.graph = graph
        self.resources = resources
    }

    /// Waits until what `ids` need from other kinds is done; returns those that failed, with why.
    public func failedDependencies(of ids: [String]) async -> [String: String] {
        let kinds = Set(ids.compactMap { graph.node($0)?.kind })
        let needed = Set(ids.flatMap { graph.node($0)?.dependsOn ?? [] }).filter { graph.node($0).map { !kinds.contains($0.kind) } ?? false }
        return await resources.wait(for: needed)
    }
}

/// Hears when each resource of a run is done, for what waits on a few resources only (the files in
/// a guest on that guest's settings, a guest's rule set on its guest).
public actor ResourceWaiter {
    private var done: [String: String?] = [:]
    /// Kinds that ended: a resource of theirs not settled by then failed for this reason.
    private var ended: [String: String] = [:]
    private let kindOf: [String: String]
    private var waiting: [(ids: Set<String>, continuation: CheckedContinuation<[String: String], Never>)] = []

    /// `graph`: which kind each resource belongs to (what `failAll(kind:)` settles).
    public init(graph: ResourceGraph) {
        kindOf = Dictionary(uniqueKeysWithValues: graph.nodes.map { ($0.id, $0.kind) })
    }

    /// Resource `id` is done: nil when it converged (or needed nothing), else why it failed.
    public func settle(_ id: String, failure: String?) {
        done[id] = done[id] ?? failure
        resume()
    }

    /// The kind is over: every resource of it not settled yet failed for `reason`.
    public func failAll(kind: String, _ reason: String) {
        ended[kind] = reason
        resume()
    }

    /// Waits until every one of `ids` is done; returns those that failed, with why. A resource no
    /// kind of this run converges is not waited for.
    public func wait(for ids: Set<String>) async -> [String: String] {
        if let failures = failures(ids) { return failures }
        return await withCheckedContinuation { continuation in waiting.append((ids, continuation)) }
    }

    private func failures(_ ids: Set<String>) -> [String: String]? {
        var failures: [String: String] = [:]
        for id in ids {
            if let outcome = done[id] {
                if let failure = outcome { failures[id] = failure }
            } else if let kind = kindOf[id] {
                guard let reason = ended[kind] else { return nil }
                failures[id] = reason
            }
        }
        return failures
    }

    private func resume() {
        var still: [(ids: Set<String>, continuation: CheckedContinuation<[String: String], Never>)] = []
        for entry in waiting {
            if let failures = failures(entry.ids) { entry.continuation.resume(returning: failures) } else { still.append(entry) }
        }
        waiting = still
    }
}
