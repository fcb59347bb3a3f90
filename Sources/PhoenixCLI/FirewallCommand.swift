import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox

/// `phoenix firewall`: the firewall stage through the API (`sync firewall --firewall-through api`).
struct FirewallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewall",
        abstract: "Converge the cluster's and the guests' firewall rules and options through the API, plan first.",
        discussion: """
            The same as phoenix sync firewall --firewall-through api. Rules phoenix manages carry \"\(APIRule.marker)\" in their \
            comment; other rules are left alone. The plan is the smallest edit, not a rebuilt list.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Flag(name: .long, help: "Print the plan and change nothing.") var dryRun = false
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        let plan = try await APIFirewallPlan.converge(estate: estate, connection: proxmox.connection, dryRun: dryRun)
        if format == .json {
            let document = JSONValue.object([("version", .number(1)), ("dry_run", .bool(dryRun))]).adding("firewall_api", plan.json)
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let lines = plan.lines + [dryRun ? "Dry run: nothing was changed." : "Firewall converged."]
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        if proxmox.stats {
            FileHandle.standardError.write(Data(String(format: "stats: %.3f s, %d API calls\n", Date().timeIntervalSince(started), plan.calls).utf8))
        }
    }
}
