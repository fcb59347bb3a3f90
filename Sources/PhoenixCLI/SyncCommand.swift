import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine

/// `phoenix sync all | STAGE...`: converge, or with --dry-run print the plan and touch nothing.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Converge stages to the configuration: stage, test, activate, reload, verify; restore on failure.",
        discussion: """
            Stages: \(SyncStage.allCases.map(\.rawValue).joined(separator: ", ")), or all. This version applies \
            \(SyncStage.allCases.filter(\.isApplied).map(\.rawValue).joined(separator: ", ")) and plans the others without \
            changing them. One sync runs at a time. Exit 0 when every unit converged (or nothing changed), 1 when any failed. \
            With --firewall-through api the firewall stage converges through the Proxmox API instead of the .fw files.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @OptionGroup var firewallMode: FirewallModeOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Flag(name: .long, help: "Print the plan and change nothing at all.") var dryRun = false
    @Argument(help: "Stages to converge, or all.") var stages: [String]

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name the stages to converge, or all") }
    }

    func run() async throws {
        let started = Date()
        let stats = MachineStats()
        let (stages, apiFirewall) = firewallMode.split(try parseStages(stages))
        let estate = try global.loadValidEstate()
        // The firewall through the API runs beside the engine, after the file stages.
        let stacksDirectory = global.resolvedStacksDirectory
        let paint = Paint(enabled: global.colored)
        if dryRun {
            var plan: Plan?
            if !stages.isEmpty {
                let store = try target.existingStore()
                plan = try await target.withEngine(for: estate, stats: stats, stacksDirectory: stacksDirectory) { engine in
                    do throws(EngineError) { return try engine.plan(stages, store: store) } catch { throw fail(error.description) }
                }
            }
            let firewall = apiFirewall ? try await APIFirewallPlan.converge(estate: estate, connection: target.connection, dryRun: true) : nil
            write(
                document: plan.map(PlanPrinter.planJSON), text: plan.map { PlanPrinter.text($0, paint: paint) }, firewall: firewall,
                closing: "Dry run: nothing was changed.")
            target.printStats(stats, started: started)
            return
        }
        var outcome: SyncOutcome?
        if !stages.isEmpty {
            let store = try target.writableStore()
            let command = (["sync"] + self.stages + target.target.flatMap { ["--target", String($0)] }).joined(separator: " ")
            outcome = try await target.withEngine(for: estate, stats: stats, stacksDirectory: stacksDirectory) { engine in
                do throws(EngineError) { return try engine.sync(stages, store: store, command: command) } catch { throw fail(error.description) }
            }
        }
        // A failed file stage leaves the firewall as it is.
        let firewall =
            apiFirewall && outcome?.succeeded != false
            ? try await APIFirewallPlan.converge(estate: estate, connection: target.connection, dryRun: false) : nil
        let closing = firewall.map { $0.hasChanges ? "Firewall converged through the API." : "Firewall through the API: as configured." }
        write(
            document: outcome.map(PlanPrinter.outcomeJSON), text: outcome.map { PlanPrinter.outcomeText($0, paint: paint) }, firewall: firewall,
            closing: closing)
        target.printStats(stats, started: started, units: outcome?.units ?? [])
        if outcome?.succeeded == false { throw ExitCode.failure }
    }

    /// The engine's part (nil when it had no stage) and the API firewall's, as text or JSON.
    private func write(document: JSONValue?, text: String?, firewall: APIFirewallPlan?, closing: String?) {
        let output: String
        if format == .json {
            var json = document ?? .object([("version", .number(1))])
            if let firewall { json = json.adding("firewall_api", firewall.json) }
            output = JSONOutput.string(json)
        } else {
            output = (text ?? "") + (firewall?.lines ?? []).map { "firewall (API) \($0)\n" }.joined() + (closing.map { $0 + "\n" } ?? "")
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
