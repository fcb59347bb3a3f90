import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices

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
        let stages = try parseStages(stages)
        let estate = try global.loadValidEstate()
        let store = try await target.existingStore()
        let (outcome, calls) = try await target.withService(
            estate: estate, stages: stages, firewallThroughAPI: firewallMode.firewallThrough == .api, stats: stats,
            stacksDirectory: global.resolvedStacksDirectory, store: store
        ) { service in try await service.plan(store: store) }
        let output =
            format == .json
            ? JSONOutput.string(SyncPrinter.json(outcome)) : SyncPrinter.text(outcome, verbose: verbose, paint: Paint(enabled: global.colored))
        FileHandle.standardOutput.write(Data(output.utf8))
        target.printStats(stats, run: outcome.stats, started: started, apiCalls: calls, store: store)
        // A plan that could not be computed is a failure, whatever else it found.
        if !outcome.unplanned.isEmpty { throw fail(Self.incomplete(outcome)) }
        if detailedExitcode && outcome.hasChanges { throw ExitCode(2) }
    }

    /// Why a plan is incomplete, for stderr.
    static func incomplete(_ outcome: SyncService.Outcome) -> String {
        "the plan is incomplete: \(outcome.unplanned.joined(separator: ", ")) could not be planned (see above); what sync would do there is unknown"
    }
}
