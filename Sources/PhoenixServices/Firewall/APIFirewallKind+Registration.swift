import PhoenixCore
import PhoenixEngine

extension APIFirewallKind {
    /// The firewall's rule sets take part through the API when the command asks for it
    /// (`--firewall-through api`); its files are then not the files kind's.
    public static let registration = KindRegistration(kind: FirewallRulesKind()) { environment in
        guard environment.options[FirewallThroughAPI.self], environment.asks(.firewall) else { return .none }
        guard let client = environment.proxmox else { return KindSetup(notApplied: [(.firewall, environment.withoutAPI)]) }
        var rules = FirewallRules(estate: environment.estate, client: client)
        rules.scope = environment.scope
        return KindSetup(runner: ExecutedRunner(APIFirewallKind(rules: rules), executor: environment.executor(), report: APIFirewallKind.report))
    }
}
