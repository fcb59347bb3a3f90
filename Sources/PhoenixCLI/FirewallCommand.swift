import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix firewall`: converges the Proxmox firewall through the API instead of files.
struct FirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewall",
        abstract: "Converge the cluster's and the guests' firewall rules and options through the API, plan first.",
        discussion: "Rules phoenix manages carry \"\(APIRule.marker)\" in their comment; other rules are left alone. The plan is the smallest edit, not a rebuilt list.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false

    func run() async throws {
        let estate = try global.loadValidEstate()
        let client = try proxmox.client()
        var lines: [String] = []
        do throws(ProxmoxError) {
            var scopes: [(String, String, [FirewallRule], [(key: String, value: String)])] = []
            if estate.firewall.declared {
                scopes.append((
                    "cluster", "/cluster/firewall", estate.firewall.rules,
                    [("enable", estate.firewall.enabled ? "1" : "0"), ("policy_in", estate.firewall.policyIn.rawValue), ("policy_out", estate.firewall.policyOut.rawValue)]
                ))
            }
            let cluster = Dictionary(try await client.guests().map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
            for guest in estate.guests where guest.enabled {
                guard let firewall = guest.firewall else { continue }
                guard let actual = cluster[guest.id] else {
                    lines.append("guest \(guest.id): not on the cluster, its firewall waits for phoenix create")
                    continue
                }
                scopes.append(("guest \(guest.id)", "\(actual.path)/firewall", firewall.rules, [("enable", firewall.enabled ? "1" : "0")]))
            }
            for (name, base, rules, options) in scopes {
                let plan = try await client.firewallPlan(name: name, base: base, rules: rules, options: options)
                if plan.isEmpty {
                    lines.append("\(name): as configured")
                    continue
                }
                for change in plan.options { lines.append("\(name): option \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
                for edit in plan.edits {
                    switch edit {
                    case let .delete(position, rule): lines.append("\(name): - rule \(position): \(rule.text)")
                    case let .insert(position, rule): lines.append("\(name): + rule \(position): \(rule.text)")
                    }
                }
                if !dryRun { try await client.apply(plan) }
            }
        } catch {
            await client.shutdown()
            throw fail(error.description)
        }
        await client.shutdown()
        lines.append(dryRun ? "Dry run: nothing was changed." : "Firewall converged.")
        FileHandle.standardOutput.write(Data((lines.map { TextRules.printable($0, limit: 400) }.joined(separator: "\n") + "\n").utf8))
    }
}
