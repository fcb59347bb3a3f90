import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices

/// `phoenix sync all | STAGE...`: converge, or with --dry-run print the plan and touch nothing.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Converge stages to the configuration: stage, test, activate, reload, verify; restore on failure.",
        discussion: """
            Stages: \(KindRegistry.standard.stages.map(\.rawValue).joined(separator: ", ")), or all; each is converged by the kinds \
            registered for it. One sync runs at a time. Exit 0 when every unit converged (or nothing changed), 1 when any failed. \
            The guests stage converges the guests' settings through the Proxmox API (--api; without it, it is planned as not \
            applied). With --firewall-through api the firewall stage converges through the API instead of the .fw files.
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
        try await Self.execute(
            global: global, target: target, firewallThroughAPI: firewallMode.firewallThrough == .api, format: format, dryRun: dryRun,
            stageNames: stages)
    }

    /// The sync itself, for `sync` and `certs renew`.
    static func execute(
        global: GlobalOptions, target: SyncOptions, firewallThroughAPI apiFirewall: Bool, format: OutputFormat, dryRun: Bool, stageNames: [String]
    )
        async throws
    {
        let started = Date()
        let stats = MachineStats()
        let stages = try parseStages(stageNames)
        let estate = try global.loadValidEstate()
        let paint = Paint(enabled: global.colored)
        let store = dryRun ? try await target.existingStore() : try await target.writableStore()
        let command = (["sync"] + stageNames + target.target.flatMap { ["--target", String($0)] } + target.force.flatMap { ["--force", $0] })
            .joined(separator: " ")
        let (outcome, calls) = try await target.withService(
            estate: estate, stages: stages, firewallThroughAPI: apiFirewall, stats: stats, stacksDirectory: global.resolvedStacksDirectory, store: store
        ) { service in
            // A dry run plans and touches nothing, not even the state store.
            guard !dryRun, let store else { return try await service.plan(store: store) }
            return try await service.sync(store: store, command: command)
        }
        let text = SyncPrinter.text(outcome, paint: paint) + (dryRun ? "Dry run: nothing was changed.\n" : "")
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(SyncPrinter.json(outcome)) : text).utf8))
        target.printStats(stats, run: outcome.stats, started: started, apiCalls: calls, store: store)
        if dryRun && !outcome.unplanned.isEmpty { throw fail(PlanCommand.incomplete(outcome)) }
        if !dryRun && !outcome.succeeded { throw ExitCode.failure }
    }
}
