import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

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

/// The firewall through the API: one plan per scope (the cluster, then each guest with firewall
/// settings), each the smallest edit of the rules phoenix marks as its own.
struct APIFirewallPlan {
    var scopes: [FirewallScopePlan] = []
    /// Guests with firewall settings that are not on the cluster yet.
    var waiting: [Int] = []
    /// The API calls it took.
    var calls = 0

    var hasChanges: Bool { scopes.contains { !$0.isEmpty } }

    static func make(estate: Estate, client: ProxmoxClient) async throws(ProxmoxError) -> APIFirewallPlan {
        var plan = APIFirewallPlan()
        var scopes: [(name: String, base: String, rules: [FirewallRule], options: [(key: String, value: String)])] = []
        if estate.firewall.declared {
            let options = [
                (key: "enable", value: estate.firewall.enabled ? "1" : "0"), (key: "policy_in", value: estate.firewall.policyIn.rawValue),
                (key: "policy_out", value: estate.firewall.policyOut.rawValue),
            ]
            scopes.append(("cluster", "/cluster/firewall", estate.firewall.rules, options))
        }
        let cluster = try await client.guestsByID()
        for guest in estate.guests where guest.enabled {
            guard let firewall = guest.firewall else { continue }
            guard let actual = cluster[guest.id] else {
                plan.waiting.append(guest.id)
                continue
            }
            scopes.append(("guest \(guest.id)", "\(actual.path)/firewall", firewall.rules, [(key: "enable", value: firewall.enabled ? "1" : "0")]))
        }
        // Every scope read at once; the plans kept in scope order.
        plan.scopes = try await inParallel(scopes) { scope async throws(ProxmoxError) in
            try await client.firewallPlan(name: scope.name, base: scope.base, rules: scope.rules, options: scope.options)
        }
        return plan
    }

    func apply(_ client: ProxmoxClient) async throws(ProxmoxError) {
        for scope in scopes where !scope.isEmpty { try await client.apply(scope) }
    }

    var lines: [String] {
        var lines: [String] = []
        for scope in scopes {
            if scope.isEmpty {
                lines.append("\(scope.name): as configured")
                continue
            }
            for change in scope.options { lines.append("\(scope.name): option \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
            for edit in scope.edits {
                switch edit {
                case let .delete(position, rule): lines.append("\(scope.name): - rule \(position): \(rule.text)")
                case let .insert(position, rule): lines.append("\(scope.name): + rule \(position): \(rule.text)")
                }
            }
        }
        for id in waiting { lines.append("guest \(id): not on the cluster, its firewall waits for phoenix create") }
        return lines.map { TextRules.printable($0, limit: 400) }
    }

    var json: JSONValue {
        .object([
            (
                "scopes",
                .array(
                    scopes.map { scope in
                        .object([
                            ("scope", .string(scope.name)),
                            (
                                "options",
                                .array(
                                    scope.options.map {
                                        .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))])
                                    })
                            ),
                            (
                                "edits",
                                .array(
                                    scope.edits.map { edit in
                                        switch edit {
                                        case let .delete(position, rule):
                                            .object([("action", .string("delete")), ("position", .number(Double(position))), ("rule", .string(rule.text))])
                                        case let .insert(position, rule):
                                            .object([("action", .string("insert")), ("position", .number(Double(position))), ("rule", .string(rule.text))])
                                        }
                                    })
                            ),
                        ])
                    })
            ),
            ("waiting_for_create", .array(waiting.map { .number(Double($0)) })),
        ])
    }

    /// Plans (and unless `dryRun` applies) the firewall through the API.
    static func converge(estate: Estate, connection: APIConnection, dryRun: Bool) async throws -> APIFirewallPlan {
        try await connection.withClient { client async throws(ProxmoxError) in
            var plan = try await make(estate: estate, client: client)
            if !dryRun { try await plan.apply(client) }
            plan.calls = client.counter.total
            return plan
        }
    }
}

extension JSONValue {
    /// This object with one more member.
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case let .object(members) = self else { return self }
        return .object(members + [(key: key, value: value)])
    }
}
