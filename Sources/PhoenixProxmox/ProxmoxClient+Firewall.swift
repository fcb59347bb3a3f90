import Foundation
import PhoenixCore

/// The firewall of one scope (the cluster or a guest) as `phoenix firewall` converges it.
public struct FirewallScopePlan: Sendable {
    public let name: String
    /// `/cluster/firewall` or `/nodes/pve1/lxc/101/firewall`.
    public let base: String
    public let options: [ConfigChange]
    public let edits: [FirewallEdit]
    /// phoenix's rules as they were when planned, in order: what a restore puts back.
    public var managedBefore: [APIRule] = []
    public var isEmpty: Bool { options.isEmpty && edits.isEmpty }

    public init(name: String, base: String, options: [ConfigChange], edits: [FirewallEdit], managedBefore: [APIRule] = []) {
        self.name = name
        self.base = base
        self.options = options
        self.edits = edits
        self.managedBefore = managedBefore
    }
}

extension ProxmoxClient {
    /// Compares a scope's rules and options with what the configuration asks for.
    public func firewallPlan(
        name: String, base: String, rules: [FirewallRule], options: [(key: String, value: String)]
    ) async throws(ProxmoxError)
        -> FirewallScopePlan
    {
        try await firewallPlan(name: name, base: base, apiRules: rules.map(APIRule.init), options: options)
    }

    /// Compares a scope's rules and options with `apiRules` (phoenix's rules as the API lists them).
    /// `readingOptions` false reads the rules alone (a check after a change that set no option).
    public func firewallPlan(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)], readingOptions: Bool = true
    ) async throws(ProxmoxError)
        -> FirewallScopePlan
    {
        guard case let .array(items) = try await get("\(base)/rules") else {
            throw ProxmoxError(call: "GET \(base)/rules", kind: .malformed, message: "no list of rules")
        }
        let actual = items.compactMap(APIRule.init(json:))
        var current: [String: String] = [:]
        if readingOptions, case let .object(members) = try await get("\(base)/options") {
            for member in members {
                switch member.value {
                case let .string(text): current[member.key] = text
                case let .number(number): current[member.key] = JSONWriter.number(number)
                default: continue
                }
            }
        }
        return FirewallScopePlan(
            name: name, base: base, options: readingOptions ? ProxmoxGuestConfig.differences(desired: options, actual: current) : [],
            edits: FirewallAPIPlan.edits(actual: actual, desired: apiRules), managedBefore: actual.filter(\.isManaged))
    }

    /// Applies a scope's plan: options, then the rule edits in order.
    public func apply(_ plan: FirewallScopePlan) async throws(ProxmoxError) {
        if !plan.options.isEmpty { _ = try await put("\(plan.base)/options", plan.options.map { ($0.key, $0.to) }) }
        for edit in plan.edits {
            switch edit {
            case let .delete(position, _): _ = try await delete("\(plan.base)/rules/\(position)")
            case let .insert(position, rule):
                // Proxmox puts a new rule first; `moveto` then sets it in front of the rule now at
                // position + 1 (the one that was at `position`), or at the end when there is none.
                _ = try await post("\(plan.base)/rules", rule.parameters)
                if position > 0 { _ = try await put("\(plan.base)/rules/0", [("moveto", String(position + 1))]) }
            }
        }
    }
}
