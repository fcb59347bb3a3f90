import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine

/// `phoenix sync all | STAGE...`: converge, or with --dry-run print the plan and touch nothing.
struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Converge stages to the configuration: stage, test, activate, reload, verify; restore on failure.",
        discussion: """
            Stages: \(SyncStage.allCases.map(\.rawValue).joined(separator: ", ")), or all. This version applies \
            \(SyncStage.allCases.filter(\.isApplied).map(\.rawValue).joined(separator: ", ")) and plans the others without \
            changing them. One sync runs at a time. Exit 0 when every unit converged (or nothing changed), 1 when any failed.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Flag(name: .long, help: "Print the plan and change nothing at all.") var dryRun = false
    @Argument(help: "Stages to converge, or all.") var stages: [String]

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name the stages to converge, or all") }
    }

    func run() throws {
        let started = Date()
        let stats = MachineStats()
        let stages = try parseStages(stages)
        let estate = try global.loadValidEstate()
        let engine = target.engine(for: estate, stats: stats, stacksDirectory: global.resolvedStacksDirectory)
        if dryRun {
            let plan: Plan
            let store = try target.existingStore()
            do { plan = try engine.plan(stages, store: store) } catch { throw fail(error.description) }
            let output = format == .json ? JSONOutput.string(PlanPrinter.planJSON(plan)) : PlanPrinter.text(plan) + "Dry run: nothing was changed.\n"
            FileHandle.standardOutput.write(Data(output.utf8))
            target.printStats(stats, started: started)
            return
        }
        let store = try target.writableStore()
        let outcome: SyncOutcome
        do {
            outcome = try engine.sync(stages, store: store, command: (["sync"] + self.stages).joined(separator: " "))
        } catch {
            throw fail(error.description)
        }
        let output = format == .json ? JSONOutput.string(PlanPrinter.outcomeJSON(outcome)) : PlanPrinter.outcomeText(outcome)
        FileHandle.standardOutput.write(Data(output.utf8))
        target.printStats(stats, started: started, units: outcome.units)
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
