import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState

/// The firewall through the Proxmox API (`--firewall-through api`): one resource per scope —
/// `firewall:cluster` and `firewall:guest/<id>` — each the smallest edit of the rules phoenix marks
/// as its own, options included.
///
/// This is the kind's observation; `APIFirewallKind` converges it on the executor: each scope's
/// change journalled, verified by reading the scope back (nothing left to edit), and undone
/// (phoenix's previous rules and options put back) when a call fails or the check does not hold.
public struct FirewallRules: Sendable {
    public var estate: Estate
    public var client: any ProxmoxAPI
    /// Only these guests' scopes (`--target`); the cluster's waits for an untargeted run.
    public var scope: GuestScope?

    public init(estate: Estate, client: any ProxmoxAPI) {
        self.estate = estate
        self.client = client
    }

    /// One scope's plan and, after apply, how it ended.
    public struct Scope: Sendable {
        public let id: String
        public let plan: FirewallScopePlan
        /// What the scope should read: phoenix's rules and the options.
        public let rules: [APIRule]
        public let options: [(key: String, value: String)]
        /// Nil when planned only, or converged; why it failed otherwise.
        public var failure: String?
        /// Why it was not attempted (the guest it belongs to did not converge).
        public var blocked: String?
        /// The API calls its change took, and how long it took (for the apply benchmark).
        public var calls = 0
        public var seconds = 0.0
    }

    /// Every scope's plan, and the guests with firewall settings that are not on the cluster yet.
    public struct Plan: Sendable {
        public var scopes: [Scope] = []
        public var waiting: [Int] = []
        public init() {}
        public var hasChanges: Bool { scopes.contains { !$0.plan.isEmpty } }
        public var failures: [String: String] {
            Dictionary(uniqueKeysWithValues: scopes.compactMap { scope in (scope.failure ?? scope.blocked).map { (scope.id, $0) } })
        }
    }

    /// Reads every scope at once and plans each.
    public func plan() async throws(ProxmoxError) -> Plan {
        var plan = Plan()
        var wanted: [(id: String, name: String, base: String, rules: [APIRule], options: [(key: String, value: String)])] = []
        if estate.firewall.declared && scope == nil {
            let options = [
                (key: "enable", value: estate.firewall.enabled ? "1" : "0"), (key: "policy_in", value: estate.firewall.policyIn.rawValue),
                (key: "policy_out", value: estate.firewall.policyOut.rawValue),
            ]
            wanted.append(("firewall:cluster", "cluster", "/cluster/firewall", estate.firewall.rules.map(APIRule.init), options))
        }
        let cluster = try await client.guestsByID()
        for guest in estate.guests where guest.enabled && (scope?.guests.contains(guest.id) ?? true) {
            guard let firewall = guest.firewall else { continue }
            guard let actual = cluster[guest.id] else {
                plan.waiting.append(guest.id)
                continue
            }
            wanted.append(
                (
                    "firewall:guest/\(guest.id)", "guest \(guest.id)", "\(actual.path)/firewall", firewall.rules.map(APIRule.init),
                    [(key: "enable", value: firewall.enabled ? "1" : "0")]
                ))
        }
        let client = self.client
        let plans = try await inParallel(wanted) { scope async throws(ProxmoxError) in
            try await client.firewallPlan(name: scope.name, base: scope.base, apiRules: scope.rules, options: scope.options)
        }
        plan.scopes = zip(wanted, plans).map { Scope(id: $0.id, plan: $1, rules: $0.rules, options: $0.options) }
        return plan
    }
}

extension FirewallRules.Plan {
    /// The plan (and how each scope ended) for people, one line per option or rule edit.
    public var lines: [String] {
        let plan = self
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

    /// The plan as JSON: each scope with its id, kind, options, edits and, after a sync, how it ended.
    public var json: JSONValue {
        let plan = self
        return .object([
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
