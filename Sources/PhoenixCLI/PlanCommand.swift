import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine

/// `phoenix plan [STAGE...]`: what sync would change, resource by resource, with the reasons.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what sync would change, resource by resource, and why.",
        discussion: "Reads the installed files and the state store; writes nothing. With --detailed-exitcode: 0 no changes, 2 changes."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Flag(name: .long, help: "Exit 2 when there are changes.") var detailedExitcode = false
    @Flag(name: .long, help: "List unchanged resources too.") var verbose = false
    @Argument(help: "Stages to plan, or all (default).") var stages: [String] = []

    func run() throws {
        let started = Date()
        let stats = MachineStats()
        let stages = try parseStages(stages)
        let estate = try global.loadValidEstate()
        let plan: Plan
        let store = try target.existingStore()
        do {
            plan = try target.engine(for: estate, stats: stats, stacksDirectory: global.resolvedStacksDirectory).plan(stages, store: store)
        } catch {
            throw fail(error.description)
        }
        let output = format == .json ? JSONOutput.string(PlanPrinter.planJSON(plan)) : PlanPrinter.text(plan, verbose: verbose)
        FileHandle.standardOutput.write(Data(output.utf8))
        target.printStats(stats, started: started)
        if detailedExitcode && plan.hasChanges { throw ExitCode(2) }
    }
}
