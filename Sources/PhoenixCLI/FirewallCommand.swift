import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

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
        let estate = try global.loadValidEstate()
        // The firewall stage through the API, assembled from the registered kinds like any sync.
        let outcome = try await proxmox.converge(estate, .firewall, command: "firewall", dryRun: dryRun) { $0.options[FirewallThroughAPI.self] = true }
        let report = outcome.report(FirewallReport.self)
        if let error = report?.error { throw fail(error) }
        let plan = report?.plan ?? FirewallRules.Plan()
        if format == .json {
            let document = JSONValue.object([("version", .number(1)), ("dry_run", .bool(dryRun))]).adding("firewall_api", plan.json)
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let closing =
                dryRun ? "Dry run: nothing was changed." : plan.failures.isEmpty ? "Firewall converged." : "Firewall: \(plan.failures.count) scopes failed."
            FileHandle.standardOutput.write(Data(((plan.lines + [closing]).joined(separator: "\n") + "\n").utf8))
        }
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
