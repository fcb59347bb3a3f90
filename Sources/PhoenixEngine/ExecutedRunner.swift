import Foundation
import PhoenixCore

/// A kind on the executor, as the sync service runs it: plan, sync, drift and rollback all through
/// one `Executor`, and the results rendered by the kind's report (or the generic one).
public struct ExecutedRunner<K: ConvergentKind>: KindRunner {
    public let convergent: K
    public var executor: Executor
    /// Renders the kind's execution as the printers want it (`synced`: after a sync, not a plan).
    public var report: @Sendable (KindExecution<K>, _ synced: Bool) async -> any KindReport

    public init(
        _ kind: K, executor: Executor,
        report: @escaping @Sendable (KindExecution<K>, _ synced: Bool) async -> any KindReport = { ExecutionReport($0, synced: $1) }
    ) {
        convergent = kind
        self.executor = executor
        self.report = report
    }

    public var kind: any ResourceKind { convergent }

    public func plan(_ context: KindContext) async throws -> any KindReport {
        await report(await executor.plan(convergent, in: context), false)
    }

    public func sync(_ context: RunContext) async throws -> any KindReport {
        let execution = await executor.sync(convergent, in: context.kind, waiter: context.resources)
        let rendered = await report(execution, true)
        // A kind's own report may not carry the crash: the run must still end abandoned.
        return execution.abandoned && !rendered.abandoned ? AbandonedReport(rendered) : rendered
    }

    public var checksDrift: Bool { convergent is any DriftingKind }

    public func notRestored(_ ids: [String], since run: Int64) -> String { convergent.notRestored(ids, since: run) }

    public func drift(_ context: KindContext) async throws -> KindDrift? {
        guard let drifting = convergent as? any DriftingKind else { return nil }
        return await executor.drift(drifting, in: context)
    }

    public func rollback(to run: Int64, _ context: RunContext) async throws -> (any KindReport)? {
        guard let kind = convergent as? any RollbackKind else { return nil }
        return await rollback(kind, to: run, context)
    }

    private func rollback<R: RollbackKind>(_ kind: R, to run: Int64, _ context: RunContext) async -> any KindReport {
        let execution = await executor.rollback(kind, to: run, in: context.kind, waiter: context.resources)
        // The same kind, seen through the protocol it was opened as: its own report renders it.
        guard let same = execution as? KindExecution<K> else { return ExecutionReport(execution, synced: true) }
        return await report(same, true)
    }
}

/// A kind's report of a run a failpoint crash abandoned in it (in-process tests only).
struct AbandonedReport: KindReport {
    let base: any KindReport
    init(_ base: any KindReport) { self.base = base }
    var kind: String { base.kind }
    var failure: ResourceFailure? { base.failure }
    var hasChanges: Bool { base.hasChanges }
    var summary: String? { base.summary }
    var json: (key: String, value: JSONValue)? { base.json }
    func lines(verbose: Bool) -> [String] { base.lines(verbose: verbose) }
    var results: [ResourceResult] { base.results }
    var abandoned: Bool { true }
}

/// Any kind's execution for people and for JSON: one line per resource that is not as configured
/// (all of them with `verbose`), and a member named after the kind listing every resource.
public struct ExecutionReport: KindReport {
    public let kind: String
    public let results: [ResourceResult]
    public let failure: ResourceFailure?
    public let notes: [String]
    public let synced: Bool
    public let abandoned: Bool

    public init<K>(_ execution: KindExecution<K>, synced: Bool) {
        kind = execution.kind
        results = execution.results
        failure = execution.failure
        notes = execution.plan?.notes ?? []
        self.synced = synced
        abandoned = execution.abandoned
    }

    public var hasChanges: Bool { results.contains { $0.action != .unchanged } }

    public var summary: String? {
        if let failure { return "\(kind): \(failure)" }
        let changed = results.filter { $0.action != .unchanged }
        guard !changed.isEmpty else { return nil }
        let failed = changed.filter { $0.failure != nil }.count
        return "\(kind): \(changed.count - failed) converged, \(failed) failed"
    }

    public var json: (key: String, value: JSONValue)? {
        var members: [(key: String, value: JSONValue)] = [("resources", .array(results.map(\.json)))]
        if let failure { members.append(("error", .string(failure.description))) }
        return (kind, .object(members))
    }

    public func lines(verbose: Bool) -> [String] {
        if let failure { return ["\(kind): failed: \(TextRules.printable(failure.description, limit: 1200))"] }
        var lines: [String] = []
        for result in results where verbose || result.action != .unchanged || result.failure != nil {
            var line = "\(kind): \(result.id): "
            if let error = result.failure {
                line += "failed: \(error)"
            } else if result.action == .unchanged {
                line += "as configured"
            } else {
                line += "\(result.action.rawValue)" + (result.reasons.isEmpty ? "" : " (\(result.reasons.map(\.text).joined(separator: "; ")))")
                if synced { line += ": \(result.outcome.word)" }
            }
            lines.append(TextRules.printable(line, limit: 400))
        }
        return lines + notes.map { "\(kind): \($0)" }
    }
}

extension ResourceResult {
    /// One resource in JSON: its id, kind, stage, action, reasons, outcome and, when it failed, the
    /// typed failure (category, whose to fix, what became of the previous state).
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(id)), ("kind", .string(kind)), ("stage", .string(stage.rawValue)), ("action", .string(action.rawValue)),
            ("reasons", .array(reasons.map { .string($0.text) })), ("outcome", .string(outcome.word)),
        ]
        if let error = failure {
            var failure: [(key: String, value: JSONValue)] = [
                ("category", .string(error.failure.category)), ("message", .string(error.description)),
                ("responsibility", .string(error.failure.responsibility.rawValue)),
            ]
            if let restore = error.restore { failure.append(("restore", .string(restore.description))) }
            members.append(("failure", .object(failure)))
        }
        if calls > 0 { members.append(("calls", .number(Double(calls)))) }
        if seconds > 0 { members.append(("seconds", .number((seconds * 1000).rounded() / 1000))) }
        return .object(members)
    }
}
