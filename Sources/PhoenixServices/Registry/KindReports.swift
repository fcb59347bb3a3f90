import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox

extension GuestSettings {
    /// The guests' settings on the executor, rendered as the guests' printers show them.
    public func runner(executor: Executor) -> ExecutedRunner<GuestSettings> {
        ExecutedRunner(self, executor: executor) { execution, synced in
            GuestsReport(report: self.report(execution, synced: synced), error: execution.failure?.description, results: execution.results)
        }
    }
}

/// The guests' settings, for the printers: the lines of the guests read and each change.
public struct GuestsReport: KindReport {
    public let kind = GuestSettingsKind().name
    public let report: GuestSettings.Report?
    public var error: String?
    public var results: [ResourceResult] = []

    public var failures: [String: String] { report?.failures ?? [:] }
    public var hasChanges: Bool { !(report?.changed.isEmpty ?? true) }

    public var summary: String? {
        if let error { return "guests: \(error)" }
        guard let report, !report.changed.isEmpty else { return nil }
        return "guests: \(report.changed.count - report.failures.count) changed, \(report.failures.count) failed"
    }

    public var json: (key: String, value: JSONValue)? {
        if let error { return ("guests_error", .string(error)) }
        guard let report else { return nil }
        return (
            "guests",
            .object([
                ("read", .number(Double(report.read))), ("not_read", .number(Double(report.notRead))),
                ("changes", .array(report.changed.map(\.json))),
            ])
        )
    }

    public func lines(verbose: Bool) -> [String] {
        if let error { return ["guests: failed: \(TextRules.printable(error, limit: 1200))"] }
        guard let report else { return [] }
        var lines = report.lines.filter { verbose || !$0.hasSuffix(": as configured") }.map { "guests: \(TextRules.printable($0, limit: 400))" }
        if report.notRead > 0 {
            lines.append("guests: \(report.notRead) unchanged since phoenix converged them were not read (--refresh with converge reads them)")
        }
        return lines
    }
}

extension GuestSettings.GuestChange {
    /// One changed guest in JSON: its resource, kind, why it was read, the settings, and how it went.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [
            ("id", .string(String(id))), ("resource", .string(resourceID)), ("kind", .string(GuestSettingsKind().name)),
            ("read_because", .string(readBecause)),
            ("changes", .array(changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })),
            ("waiting_for_reboot", .array(waitingForReboot.map(JSONValue.string))),
        ]
        if let failure { members.append(("error", .string(failure))) }
        if calls > 0 {
            members.append(("calls", .number(Double(calls))))
            members.append(("seconds", .number((seconds * 1000).rounded() / 1000)))
        }
        return .object(members)
    }
}

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
    public let kind = FileKind().name
    public let result: SyncService.FileResult
    public var error: String?
    public var results: [ResourceResult] = []

    public init(result: SyncService.FileResult, error: String? = nil, results: [ResourceResult] = []) {
        self.result = result
        self.error = error
        self.results = results
    }

    /// A plan (`synced` false) or a sync of the files kind: each step a unit with its outcome.
    public init(_ execution: KindExecution<FilesKind>, synced: Bool) {
        guard let observation = execution.observation, let planned = execution.plan else {
            self.init(result: .none, error: execution.failure?.description, results: execution.results)
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

    public var failures: [String: String] {
        guard case let .synced(outcome) = result else { return [:] }
        var failures: [String: String] = [:]
        for unit in outcome.units where unit.status != .converged {
            let resources = outcome.plan.changes.filter { $0.unit == unit.unit }.map(\.id)
            for id in resources { failures[id] = unit.message }
        }
        return failures
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
}
