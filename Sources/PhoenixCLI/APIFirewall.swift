import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices

/// How the firewall stage converges.
enum FirewallMode: String, ExpressibleByArgument, CaseIterable {
    /// cluster.fw, host.fw and <id>.fw on the node, compiled and reloaded there (the original's way).
    case files
    /// Rules and options through the Proxmox API, phoenix's rules marked in their comment.
    case api
}

/// `--firewall-through` for `sync` and `plan` (the API options are the target's).
struct FirewallModeOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "How the firewall stage converges: files (the .fw files on the node) or api (rules and options through the Proxmox API; needs --api).")
    var firewallThrough: FirewallMode = .files

    /// The stages the engine converges, and whether the firewall goes through the API beside it.
    func split(_ stages: [SyncStage]) -> (engine: [SyncStage], apiFirewall: Bool) {
        guard firewallThrough == .api, stages.contains(.firewall) else { return (stages, false) }
        return (stages.filter { $0 != .firewall }, true)
    }
}

/// The firewall through the API as text and JSON: one plan per scope (the cluster, then each
/// guest with firewall settings), each the smallest edit of the rules phoenix marks as its own.
enum FirewallRulesPrinter {
    static func lines(_ plan: FirewallRules.Plan) -> [String] {
        var lines: [String] = []
        for scope in plan.scopes {
            let name = scope.plan.name
            if scope.plan.isEmpty {
                lines.append("\(name): as configured")
                continue
            }
            for change in scope.plan.options { lines.append("\(name): option \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
            for edit in scope.plan.edits {
                switch edit {
                case let .delete(position, rule): lines.append("\(name): - rule \(position): \(rule.text)")
                case let .insert(position, rule): lines.append("\(name): + rule \(position): \(rule.text)")
                }
            }
            if let failure = scope.failure ?? scope.blocked { lines.append("\(name): failed: \(failure)") }
        }
        for id in plan.waiting { lines.append("guest \(id): not on the cluster, its firewall waits for phoenix create") }
        return lines.map { TextRules.printable($0, limit: 400) }
    }

    static func json(_ plan: FirewallRules.Plan) -> JSONValue {
        .object([
            (
                "scopes",
                .array(
                    plan.scopes.map { scope in
                        var members: [(key: String, value: JSONValue)] = [
                            ("scope", .string(scope.plan.name)),
                            (
                                "options",
                                .array(
                                    scope.plan.options.map {
                                        .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))])
                                    })
                            ),
                            (
                                "edits",
                                .array(
                                    scope.plan.edits.map { edit in
                                        switch edit {
                                        case let .delete(position, rule):
                                            .object([("action", .string("delete")), ("position", .number(Double(position))), ("rule", .string(rule.text))])
                                        case let .insert(position, rule):
                                            .object([("action", .string("insert")), ("position", .number(Double(position))), ("rule", .string(rule.text))])
                                        }
                                    })
                            ),
                        ]
                        members.append(("id", .string(scope.id)))
                        members.append(("kind", .string(FirewallRulesKind().name)))
                        if let failure = scope.failure ?? scope.blocked { members.append(("error", .string(failure))) }
                        if scope.calls > 0 {
                            members.append(("calls", .number(Double(scope.calls))))
                            members.append(("seconds", .number((scope.seconds * 1000).rounded() / 1000)))
                        }
                        return .object(members)
                    })
            ),
            ("waiting_for_create", .array(plan.waiting.map { .number(Double($0)) })),
        ])
    }
}

extension JSONValue {
    /// This object with one more member.
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        return .object(members + [(key: key, value: value)])
    }
}
