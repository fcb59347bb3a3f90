import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState

/// `phoenix rollback RUN`: re-apply the state an earlier successful run left.
struct RollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Re-apply what an earlier successful run left installed (phoenix history lists the runs).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "The run to return to.") var runID: Int64

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try target.writableStore()
        let runID = self.runID
        let outcome = try await target.withEngine(for: estate, stacksDirectory: global.resolvedStacksDirectory) { engine in
            do throws(EngineError) { return try engine.rollback(to: runID, store: store, command: "rollback \(runID)") } catch { throw fail(error.description) }
        }
        let output =
            format == .json ? JSONOutput.string(PlanPrinter.outcomeJSON(outcome)) : PlanPrinter.outcomeText(outcome, paint: Paint(enabled: global.colored))
        FileHandle.standardOutput.write(Data(output.utf8))
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
