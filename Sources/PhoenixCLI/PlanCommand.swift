import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine

/// `phoenix plan [STAGE...]`: what sync would change, resource by resource, with the reasons.
struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what sync would change, resource by resource, and why.",
        discussion: "Reads the installed files and the state store; writes nothing. With --detailed-exitcode: 0 no changes, 2 changes."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @OptionGroup var firewallMode: FirewallModeOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Flag(name: .long, help: "Exit 2 when there are changes.") var detailedExitcode = false
    @Flag(name: .long, help: "List unchanged resources too.") var verbose = false
    @Argument(help: "Stages to plan, or all (default).") var stages: [String] = []

    func run() async throws {
        let started = Date()
        let stats = MachineStats()
        let (stages, apiFirewall) = firewallMode.split(try parseStages(stages))
        let estate = try global.loadValidEstate()
        let store = try target.existingStore()
        let plan = try await target.withEngine(for: estate, stats: stats, stacksDirectory: global.resolvedStacksDirectory) { engine in
            do throws(EngineError) { return try engine.plan(stages, store: store) } catch { throw fail(error.description) }
        }
        let firewall = apiFirewall ? try await APIFirewallPlan.converge(estate: estate, connection: target.connection, dryRun: true) : nil
        var output: String
        if format == .json {
            var document = PlanPrinter.planJSON(plan)
            if let firewall { document = document.adding("firewall_api", firewall.json) }
            output = JSONOutput.string(document)
        } else {
            output = PlanPrinter.text(plan, verbose: verbose, paint: Paint(enabled: global.colored))
            if let firewall { output += firewall.lines.filter { verbose || !$0.hasSuffix(": as configured") }.map { "firewall (API) \($0)\n" }.joined() }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
        target.printStats(stats, started: started)
        if detailedExitcode && (plan.hasChanges || firewall?.hasChanges == true) { throw ExitCode(2) }
    }
}
