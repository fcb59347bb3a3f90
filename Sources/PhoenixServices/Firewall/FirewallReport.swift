import PhoenixCore

/// The firewall's rule sets through the API, for the printers: every scope with its plan and how it ended.
public struct FirewallReport: KindReport {
    public let kind = FirewallRulesKind().name
    public let plan: FirewallRules.Plan?
    public var failure: ResourceFailure?
    public var results: [ResourceResult] = []
    /// After a sync every scope is listed, and a closing line says how it ended.
    public var synced = false

    public var hasChanges: Bool { plan?.hasChanges ?? false }

    public var summary: String? {
        if let error { return "firewall through the API: \(error)" }
        guard let plan, plan.hasChanges else { return nil }
        let changed = plan.scopes.filter { !$0.plan.isEmpty }.count
        return "firewall through the API: \(changed - plan.failures.count) scopes converged, \(plan.failures.count) failed"
    }

    public var json: (key: String, value: JSONValue)? {
        if let error { return ("firewall_api_error", .string(error)) }
        return plan.map { ("firewall_api", $0.json) }
    }

    public func lines(verbose: Bool) -> [String] {
        if let error { return ["firewall (API): failed: \(TextRules.printable(error, limit: 1200))"] }
        var lines = (plan?.lines ?? []).filter { verbose || synced || !$0.hasSuffix(": as configured") }.map { "firewall (API) \($0)" }
        if synced, let plan {
            if !plan.hasChanges {
                lines.append("Firewall through the API: as configured.")
            } else if plan.failures.isEmpty {
                lines.append("Firewall converged through the API.")
            }
        }
        return lines
    }
}
