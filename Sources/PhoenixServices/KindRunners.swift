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

/// The files of the host-side stages, through the engine: the stages whose files need resources
/// of other kinds (a guest's settings) wait for them, the others go at once.
public struct FilesRunner: KindRunner {
    public let kind: any ResourceKind = FileKind()
    public let stages: [SyncStage]
    public let files: SyncService.FileStages

    public init(stages: [SyncStage], files: @escaping SyncService.FileStages) {
        self.stages = stages
        self.files = files
    }

    public func plan(_ context: KindContext) async throws -> any KindReport {
        FilesReport(result: stages.isEmpty ? .none : try await files(stages, nil, [:]))
    }

    public func sync(_ context: RunContext) async throws -> any KindReport {
        let nodes = context.graph.nodes.filter { $0.kind == kind.name }
        let waits = Set(nodes.filter { node in node.dependsOn.contains { context.graph.node($0)?.kind != kind.name } }.map(\.stage))
        let later = stages.filter(waits.contains)
        let now = stages.filter { !waits.contains($0) }
        let run = (id: context.run, interrupted: context.interrupted)
        async let first: SyncService.FileResult = now.isEmpty ? .none : try await files(now, run, [:])
        async let second: SyncService.FileResult = {
            guard !later.isEmpty else { return .none }
            let failed = await context.failedDependencies(of: nodes.filter { later.contains($0.stage) }.map(\.id))
            return try await files(later, run, failed)
        }()
        let report = FilesReport(result: SyncService.merge(try await first, try await second))
        let failures = report.failures
        for node in nodes { await context.resources.settle(node.id, failure: failures[node.id]) }
        return report
    }
}

public struct FilesReport: KindReport {
    public let kind = FileKind().name
    public let result: SyncService.FileResult
    public var error: String? { nil }

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
        guard case let .synced(outcome) = result, outcome.plan.hasChanges else { return nil }
        return outcome.summary
    }

    /// The files are the document itself (the output contract), not a member of it.
    public var json: (key: String, value: JSONValue)? { nil }
    public func lines(verbose: Bool) -> [String] { [] }
}
