import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices
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
        let store = try await target.writableStore()
        let runID = self.runID
        // A run that left nothing to return to is refused before a run of its own begins.
        do { _ = try await store.snapshot(of: runID) } catch { throw fail(error.description) }
        // Every registered kind takes part: each rolls back, or says what it leaves as it is.
        let (outcome, _) = try await target.withService(
            estate: estate, stages: KindRegistry.standard.stages, stacksDirectory: global.resolvedStacksDirectory, store: store
        ) { service in try await service.rollback(to: runID, store: store, command: "rollback \(runID)") }
        // A rollback refused before anything changed (what it needs was never kept) is the command's error.
        if let refusal = outcome.reports.lazy.compactMap(\.error).first { throw fail(refusal) }
        let kept = outcome.notRestored
        let output =
            format == .json
            ? JSONOutput.string(SyncPrinter.json(outcome).adding("not_restored", .array(kept.map(JSONValue.string))))
            : SyncPrinter.text(outcome, paint: Paint(enabled: global.colored)) + kept.map { "note: not restored: \($0)\n" }.joined()
        FileHandle.standardOutput.write(Data(output.utf8))
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
