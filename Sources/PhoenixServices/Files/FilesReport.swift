import Foundation
import PhoenixCore
import PhoenixEngine

extension FilesKind {
    /// The files on the executor (one unit at a time per machine), rendered as the engine's printer
    /// shows them.
    public func runner(failpoints: Failpoints) -> ExecutedRunner<FilesKind> {
        ExecutedRunner(self, executor: Executor(limits: limits, failpoints: failpoints)) { execution, synced in
            FilesReport(execution, synced: synced)
        }
    }
}

/// The files, for the printers: the engine's plan, and after a sync each unit's outcome.
public struct FilesReport: KindReport {
    /// Nothing (the kind could not plan), the engine's plan, or each unit's outcome.
    public enum Result: Sendable {
        case none
        case planned(Plan)
        case synced(SyncOutcome)
    }

    public let kind = FileKind().name
    public let result: Result
    public var failure: ResourceFailure?
    public var results: [ResourceResult] = []

    public init(result: Result, failure: ResourceFailure? = nil, results: [ResourceResult] = []) {
        self.result = result
        self.failure = failure
        self.results = results
    }

    /// A plan (`synced` false) or a sync of the files kind: each step a unit with its outcome.
    public init(_ execution: KindExecution<FilesKind>, synced: Bool) {
        guard let observation = execution.observation, let planned = execution.plan else {
            self.init(result: .none, failure: execution.failure, results: execution.results)
            return
        }
        guard synced else {
            self.init(result: .planned(observation.plan), results: execution.results)
            return
        }
        let results = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        let unitOf = Dictionary(observation.plan.changes.map { ($0.id, $0.unit) }, uniquingKeysWith: { first, _ in first })
        let units = planned.steps.map { step -> UnitOutcome in
            let result = results[step.id]
            let unit = step.change.unit
            let ids = step.resources
            guard let result, let error = result.failure else {
                var outcome = UnitOutcome(
                    unit: unit, status: .converged, resources: ids,
                    message: step.change.changes.map { "\($0.action.rawValue) \($0.path)" }.joined(separator: ", "),
                    seconds: result?.seconds ?? 0)
                outcome.activations = (execution.applied[step.id] ?? Activation.none) == .none ? 0 : 1
                outcome.calls = result?.calls ?? 0
                return outcome
            }
            if case let .blocked(dependency, _) = error.failure {
                // A unit waits for a unit of its own kind by its service's name, as people know it.
                let message = unitOf[dependency].map { "not attempted: \($0) did not converge" } ?? error.description
                return UnitOutcome(unit: unit, status: .blocked, resources: [], message: message, seconds: 0)
            }
            var outcome = UnitOutcome(unit: unit, status: .failed, resources: ids, message: error.description, seconds: result.seconds)
            outcome.calls = result.calls
            return outcome
        }
        self.init(
            result: .synced(SyncOutcome(run: nil, plan: observation.plan, units: units.sorted { $0.unit < $1.unit }, interrupted: [])),
            results: execution.results)
    }

    public var hasChanges: Bool {
        switch result {
        case .none: return false
        case let .planned(plan): return plan.hasChanges
        case let .synced(outcome): return outcome.plan.hasChanges
        }
    }

    public var summary: String? {
        if let error { return error }
        guard case let .synced(outcome) = result, outcome.plan.hasChanges else { return nil }
        return outcome.summary
    }

    /// The files are the document itself (the output contract), not a member of it.
    public var json: (key: String, value: JSONValue)? { nil }
    public func lines(verbose: Bool) -> [String] { [] }

    /// The engine's plan, or each unit's outcome, as the files have always printed.
    public func text(verbose: Bool, context: ReportContext) -> String {
        var out = error.map { "files: failed: \(TextRules.printable($0, limit: 1200))\n" } ?? ""
        switch result {
        case .none: break
        case let .planned(plan): out += PlanPrinter.text(plan, verbose: verbose, paint: context.paint)
        case let .synced(synced):
            out += PlanPrinter.outcomeText(
                SyncOutcome(run: context.run, plan: synced.plan, units: synced.units, interrupted: context.interrupted), paint: context.paint)
        }
        return out
    }

    /// The files' plan (or outcome) is the document's body: its members set at the top level.
    public func merge(into document: JSONValue, context: ReportContext) -> JSONValue {
        let body: JSONValue
        switch result {
        case .none: return document
        case let .planned(plan): body = PlanPrinter.planJSON(plan)
        case let .synced(files):
            body = PlanPrinter.outcomeJSON(SyncOutcome(run: context.run, plan: files.plan, units: files.units, interrupted: context.interrupted))
        }
        guard case let .object(base) = document, case let .object(members) = body else { return document }
        let keys = Set(members.map(\.key))
        return .object(base.filter { !keys.contains($0.key) } + members)
    }
}
