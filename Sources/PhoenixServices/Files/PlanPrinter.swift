import Foundation
import PhoenixCore
import PhoenixEngine

/// Renders plans, sync outcomes and drift as text for people or as versioned JSON.
public enum PlanPrinter {
    static let symbols: [ChangeAction: String] = [.create: "+", .update: "~", .delete: "-", .unchanged: "="]

    static func painted(_ action: ChangeAction, _ paint: Paint) -> String {
        let symbol = symbols[action]!
        switch action {
        case .create: return paint.green(symbol)
        case .update: return paint.yellow(symbol)
        case .delete: return paint.red(symbol)
        case .unchanged: return symbol
        }
    }

    static func counts(_ plan: Plan) -> [ChangeAction: Int] {
        Dictionary(grouping: plan.changes, by: \.action).mapValues(\.count)
    }

    public static func text(_ plan: Plan, verbose: Bool = false, paint: Paint = Paint(enabled: false)) -> String {
        let counts = counts(plan)
        var out = ""
        for stage in FileKind().stages {
            let changes = plan.changes.filter { $0.stage == stage }
            let pending = changes.filter { $0.action != .unchanged }
            if let skipped = plan.notApplied.first(where: { $0.stage == stage }) {
                out += "\(stage.rawValue): not applied: \(skipped.reason)\n"
                continue
            }
            guard !changes.isEmpty else { continue }
            out += pending.isEmpty ? "\(stage.rawValue): \(changes.count) unchanged\n" : "\(stage.rawValue):\n"
            for change in (verbose ? changes : pending) {
                out += "  \(painted(change.action, paint)) \(change.id)  \(change.path) (\(change.unit))\n"
                for reason in change.reasons { out += "      \(TextRules.printable(reason, limit: 400))\n" }
            }
        }
        for note in plan.notes { out += "note: \(note)\n" }
        for warning in plan.warnings { out += "\(paint.yellow(warning))\n" }
        out +=
            plan.hasChanges
            ? "Plan: \(counts[.create] ?? 0) to create, \(counts[.update] ?? 0) to update, \(counts[.delete] ?? 0) to delete, \(counts[.unchanged] ?? 0) unchanged.\n"
            : "No changes: the installed files match the configuration (\(counts[.unchanged] ?? 0) resources).\n"
        return out
    }

    public static func planJSON(_ plan: Plan) -> JSONValue {
        let counts = counts(plan)
        return .object([
            ("version", .number(1)),
            ("changes", .array(plan.changes.map(changeJSON))),
            ("not_applied", .array(plan.notApplied.map { .object([("stage", .string($0.stage.rawValue)), ("reason", .string($0.reason))]) })),
            ("warnings", .array(plan.warnings.map(JSONValue.string))),
            ("summary", .object(ChangeAction.allCasesInOrder.map { ($0.rawValue, .number(Double(counts[$0] ?? 0))) })),
        ])
    }

    public static func changeJSON(_ change: Change) -> JSONValue {
        .object([
            ("id", .string(change.id)), ("kind", .string(FileKind().name)), ("stage", .string(change.stage.rawValue)), ("unit", .string(change.unit.key)),
            ("path", .string(change.path)),
            ("action", .string(change.action.rawValue)), ("reasons", .array(change.reasons.map(JSONValue.string))),
            ("edited_by_hand", .bool(change.editedByHand)),
        ])
    }

    public static func outcomeText(_ outcome: SyncOutcome, paint: Paint = Paint(enabled: false)) -> String {
        var out = ""
        for run in outcome.interrupted {
            // Why, when the store knows more than "it stopped" (its lock was broken, and by whom).
            let why = run.summary.hasPrefix("interrupted: ") ? " (\(run.summary.dropFirst("interrupted: ".count)))" : ""
            out +=
                "note: run \(run.id) (\(run.command), started \(ISO8601DateFormatter().string(from: run.startedAt))) was interrupted\(why); this run finishes its work\n"
        }
        for warning in outcome.plan.warnings { out += "\(paint.yellow(warning))\n" }
        guard outcome.plan.hasChanges else {
            return out + "No changes: nothing written, nothing reloaded (\(outcome.plan.changes.count) resources in sync).\n"
        }
        for unit in outcome.units {
            let status = unit.status == .converged ? paint.green(unit.status.rawValue) : paint.red(unit.status.rawValue)
            out += "\(status): \(unit.unit) (\(String(format: "%.1f", unit.seconds)) s): \(TextRules.printable(unit.message, limit: 1200))\n"
        }
        let failed = outcome.units.filter { $0.status != .converged }
        out +=
            failed.isEmpty
            ? "Converged: \(outcome.plan.pending.count) changes in \(outcome.units.count) units (run \(outcome.run ?? 0)).\n"
            : "Failed: \(failed.count) of \(outcome.units.count) units did not converge (run \(outcome.run ?? 0))"
                + (failed.count < outcome.units.count ? "; the others did.\n" : ".\n")
        return out
    }

    public static func outcomeJSON(_ outcome: SyncOutcome) -> JSONValue {
        .object([
            ("version", .number(1)),
            ("run", outcome.run.map { .number(Double($0)) } ?? .null),
            ("succeeded", .bool(outcome.succeeded)),
            ("changes", .array(outcome.plan.pending.map(changeJSON))),
            (
                "units",
                .array(
                    outcome.units.map { unit in
                        .object([
                            ("unit", .string(unit.unit.key)), ("status", .string(unit.status.rawValue)), ("message", .string(unit.message)),
                            ("resources", .array(unit.resources.map(JSONValue.string))), ("seconds", .number((unit.seconds * 1000).rounded() / 1000)),
                            ("calls", .number(Double(unit.calls))),
                        ])
                    })
            ),
            ("interrupted_runs", .array(outcome.interrupted.map { .number(Double($0.id)) })),
            ("warnings", .array(outcome.plan.warnings.map(JSONValue.string))),
        ])
    }
}

extension ChangeAction {
    static let allCasesInOrder: [ChangeAction] = [.create, .update, .delete, .unchanged]
}
