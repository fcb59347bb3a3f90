import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox

extension GuestSettings {
    /// The guests' settings on the executor, rendered as the guests' printers show them.
    public func runner(executor: Executor) -> ExecutedRunner<GuestSettings> {
        ExecutedRunner(self, executor: executor) { execution, synced in
            GuestsReport(report: self.report(execution, synced: synced), failure: execution.failure, results: execution.results)
        }
    }
}

/// The guests' settings, for the printers: the lines of the guests read and each change.
public struct GuestsReport: KindReport {
    public let kind = GuestSettingsKind().name
    public let report: GuestSettings.Report?
    public var failure: ResourceFailure?
    public var results: [ResourceResult] = []

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
