import Foundation
import PhoenixCore

extension ProxmoxClient {
    /// Compares a scope's rules and options with `apiRules` (phoenix's rules as the API lists them).
    /// `readingOptions` false reads the rules alone (a check after a change that set no option).
    public func firewallPlan(
        name: String, base: String, apiRules: [APIRule], options: [(key: String, value: String)], readingOptions: Bool
    ) async throws(ProxmoxError)
        -> FirewallScopePlan
    {
        guard case let .array(items) = try await get("\(base)/rules") else {
            throw ProxmoxError(call: "GET \(base)/rules", kind: .malformed, message: "no list of rules")
        }
        let actual = items.compactMap(APIRule.init(json:))
        var current: [String: String]?
        if readingOptions {
            var read: [String: String] = [:]
            if case let .object(members) = try await get("\(base)/options") {
                for member in members {
                    switch member.value {
                    case let .string(text): read[member.key] = text
                    case let .number(number): read[member.key] = JSONWriter.number(number)
                    default: continue
                    }
                }
            }
            current = read
        }
        return FirewallScopePlan(name: name, base: base, apiRules: apiRules, options: options, rules: actual, current: current)
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
