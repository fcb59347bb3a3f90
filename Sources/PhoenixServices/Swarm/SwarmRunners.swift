import Foundation
import PhoenixCore
import PhoenixEngine

extension SwarmConvergence {
    /// The Swarm's nodes, networks and secrets (`swarm`) on the executor, rendered as the Swarm's
    /// printers show them (with the Engine API calls of the run so far).
    public func runner(executor: Executor) -> ExecutedRunner<SwarmConvergence> {
        let connections = self.connections
        return ExecutedRunner(self, executor: executor) { execution, synced in
            SwarmConvergence.report(execution, synced: synced, calls: await connections.calls())
        }
    }
}

/// The Swarm's resources, for the printers.
public struct SwarmReport: KindReport {
    public let kind = SwarmKind().name
    public let report: SwarmConvergence.Report
    public let applied: Bool
    public var results: [ResourceResult] = []
    /// Why the Swarm could not be planned at all (the manager cannot be read).
    public var failure: ResourceFailure?
    public var hasChanges: Bool { report.items.contains { $0.hasChanges } || report.error != nil }

    public var summary: String? {
        if let error { return "swarm: \(error)" }
        let changed = report.items.filter { !$0.steps.isEmpty }
        guard !changed.isEmpty || !failures.isEmpty else { return nil }
        return "swarm: \(changed.filter(\.done).count) changed, \(failures.count) failed"
    }

    public var json: (key: String, value: JSONValue)? {
        if let error { return ("swarm_error", .string(error)) }
        let items: [JSONValue] = report.items.map { item in
            var members: [(key: String, value: JSONValue)] = [
                ("resource", .string(item.id)), ("kind", .string(kind)), ("changes", .array(item.lines.map(JSONValue.string))),
            ]
            if applied { members.append(("status", .string(item.failure != nil ? "failed" : item.steps.isEmpty ? "as configured" : "converged"))) }
            if let failure = item.failure { members.append(("error", .string(failure))) }
            return .object(members)
        }
        return ("swarm", .object([("calls", .number(Double(report.calls))), ("resources", .array(items))]))
    }

    public func lines(verbose: Bool) -> [String] {
        if let error { return ["swarm: failed: \(TextRules.printable(error, limit: 1200))"] }
        var lines: [String] = []
        for item in report.items {
            if let failure = item.failure {
                lines.append("swarm: \(item.id): \(applied ? "failed" : "cannot converge"): \(TextRules.printable(failure, limit: 600))")
            } else if item.lines.isEmpty {
                if verbose { lines.append("swarm: \(item.id): as configured") }
            } else {
                let marker = applied ? (item.done ? "done: " : "") : "~ "
                lines += item.lines.map { "swarm: \(item.id): \(marker)\(TextRules.printable($0, limit: 400))" }
            }
        }
        // Nothing to say per resource: one line, so a quiet run still says it looked.
        if lines.isEmpty && !report.items.isEmpty { lines.append("swarm: \(report.items.count) resources as configured") }
        return lines
    }
}

extension StacksKind {
    /// The stacks on the executor, rendered as the stacks' printers show them.
    public func runner(executor: Executor, connections: SwarmConnections) -> ExecutedRunner<StacksKind> {
        ExecutedRunner(self, executor: executor) { execution, synced in
            StacksKind.report(execution, synced: synced, calls: await connections.calls())
        }
    }
}

extension PortainerServices {
    /// Portainer on the executor, rendered as the stacks' printers show it.
    public func runner(executor: Executor, connections: SwarmConnections) -> ExecutedRunner<PortainerServices> {
        ExecutedRunner(self, executor: executor) { execution, synced in
            PortainerServices.report(execution, synced: synced, calls: await connections.calls())
        }
    }
}

/// The stacks (or Portainer's), for the printers.
public struct StacksReport: KindReport {
    public let kind: String
    public let report: StackDeployments.Report
    public let applied: Bool
    /// How its lines and JSON member are named: `stacks`, or `portainer`.
    public let label: String
    public let results: [ResourceResult]
    /// Why the kind could not be planned at all (the manager cannot be read).
    public let failure: ResourceFailure?

    public init(
        report: StackDeployments.Report, applied: Bool, kind: String = StackKind().name, label: String = "stacks", results: [ResourceResult] = [],
        failure: ResourceFailure? = nil
    ) {
        self.report = report
        self.applied = applied
        self.kind = kind
        self.label = label
        self.results = results
        self.failure = failure
    }

    public var hasChanges: Bool { report.items.contains { $0.hasChanges } || report.error != nil }

    public var summary: String? {
        if let error { return "\(label): \(error)" }
        let changed = report.items.filter { $0.action != .none }
        guard !changed.isEmpty || !failures.isEmpty else { return nil }
        let deployed = report.items.filter { $0.outcome == .deployed }.count
        let rolledBack = report.items.filter { $0.outcome == .rolledBack }.count
        return "\(label): \(deployed) deployed, \(rolledBack) rolled back, \(failures.count) failed"
    }

    public var json: (key: String, value: JSONValue)? {
        if let error { return ("\(label)_error", .string(error)) }
        let items: [JSONValue] = report.items.map { item in
            var members: [(key: String, value: JSONValue)] = [
                ("resource", .string(item.id)), ("kind", .string(kind)), ("stack", .string(item.namespace)), ("action", .string(item.action.rawValue)),
                ("reasons", .array(item.reasons.map(JSONValue.string))),
            ]
            if let hash = item.specHash { members.append(("spec_hash", .string(hash))) }
            if applied {
                members.append(("status", .string(item.action == .none && item.failure == nil ? "as configured" : item.outcome.rawValue)))
                members.append(("deploys", .number(Double(item.deploys))))
                if item.deploys > 0 { members.append(("seconds", .number((item.seconds * 1000).rounded() / 1000))) }
            }
            if let failure = item.failure { members.append(("error", .string(failure))) }
            if !item.serviceErrors.isEmpty { members.append(("service_errors", .array(item.serviceErrors.map(JSONValue.string)))) }
            return .object(members)
        }
        var members: [(key: String, value: JSONValue)] = [
            ("calls", .number(Double(report.calls))), ("deploys", .number(Double(report.deploys))), ("stacks", .array(items)),
        ]
        if !report.prunedSecrets.isEmpty { members.append(("pruned_secrets", .array(report.prunedSecrets.map(JSONValue.string)))) }
        return (label, .object(members))
    }

    public func lines(verbose: Bool) -> [String] {
        if let error { return ["\(label): failed: \(TextRules.printable(error, limit: 1200))"] }
        var lines: [String] = []
        for item in report.items {
            let name = "\(label): \(item.id) (\(item.namespace))"
            let why = item.reasons.map { TextRules.printable($0, limit: 600) }.joined(separator: "; ")
            if applied {
                switch (item.outcome, item.action) {
                case (.deployed, _): lines.append("\(name): deployed and converged in \(String(format: "%.1f", item.seconds)) s (\(why))")
                case (.removed, _): lines.append("\(name): removed (\(why))")
                case (.rolledBack, _), (.failed, _), (.blocked, _):
                    lines.append("\(name): \(item.outcome.rawValue): \(TextRules.printable(item.failure ?? "", limit: 1200))")
                    lines += item.serviceErrors.map { "\(name):   \(TextRules.printable($0, limit: 400))" }
                case (_, .none) where !item.reasons.isEmpty: lines.append("\(name): \(why)")
                case (_, .none): if verbose { lines.append("\(name): as configured") }
                default: lines.append("\(name): \(item.action.rawValue) (\(why))")
                }
            } else if let failure = item.failure {
                lines.append("\(name): cannot deploy: \(TextRules.printable(failure, limit: 800))")
            } else if item.action == .none {
                if !item.reasons.isEmpty { lines.append("\(name): \(why)") } else if verbose { lines.append("\(name): as configured") }
            } else {
                lines.append("\(name): \(item.action == .remove ? "- remove" : "~ deploy"): \(why)")
            }
        }
        if lines.isEmpty && !report.items.isEmpty {
            lines.append("\(label): \(report.items.count) as configured (\(report.deploys) deploy calls, \(report.calls) Engine API calls)")
        }
        return lines
    }
}
