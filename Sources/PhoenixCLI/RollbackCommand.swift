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

    /// What runs since `run` changed that a rollback cannot put back: guest settings and API rule
    /// sets are recorded as fingerprints, not values.
    static func notRestored(since run: Int64, store: any StateBackend) -> [String] {
        guard let runs = try? store.runs(limit: 10_000).filter({ $0.id >= run }) else { return [] }
        var guests = Set<String>()
        var scopes = Set<String>()
        var swarm = Set<String>()
        for record in runs {
            let throughAPI = record.command.contains("--firewall-through api") || record.command == "firewall"
            for entry in (try? store.journal(run: record.id)) ?? [] where entry.phase == .verified {
                if entry.resource.hasPrefix("guest:") { guests.insert(entry.resource) }
                if throughAPI && entry.resource.hasPrefix("firewall:") { scopes.insert(entry.resource) }
                if ["swarm:", "stack:", "portainer:"].contains(where: entry.resource.hasPrefix) { swarm.insert(entry.resource) }
            }
        }
        var notes: [String] = []
        if !guests.isEmpty {
            notes.append(
                "the settings of \(guests.sorted().joined(separator: ", ")) (changed since run \(run)) stay as they are: phoenix keeps their fingerprints, not their values"
            )
        }
        if !scopes.isEmpty {
            notes.append(
                "the API rule sets \(scopes.sorted().joined(separator: ", ")) (changed since run \(run)) stay as they are: phoenix keeps their fingerprints, not the rules"
            )
        }
        if !swarm.isEmpty {
            notes.append(
                "\(swarm.sorted().joined(separator: ", ")) (changed since run \(run)) stay as they are: a stack goes back to an earlier compose when its commit is reverted and synced (a failed deploy rolls itself back)"
            )
        }
        return notes
    }

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try target.writableStore()
        let runID = self.runID
        // A run that left nothing to return to is refused before a run of its own begins.
        do { _ = try store.snapshot(of: runID) } catch { throw fail(error.description) }
        // The stages whose resources a rollback can put back; every kind there rolls back or says it cannot.
        let (outcome, _) = try await target.withService(
            estate: estate, stages: FilesKind.fileStages, stacksDirectory: global.resolvedStacksDirectory, store: store
        ) { service in try await service.rollback(to: runID, store: store, command: "rollback \(runID)") }
        // A rollback refused before anything changed (what it needs was never kept) is the command's error.
        if let refusal = outcome.reports.lazy.compactMap(\.error).first { throw fail(refusal) }
        let kept = Self.notRestored(since: runID, store: store)
        let output =
            format == .json
            ? JSONOutput.string(SyncPrinter.json(outcome).adding("not_restored", .array(kept.map(JSONValue.string))))
            : SyncPrinter.text(outcome, paint: Paint(enabled: global.colored)) + kept.map { "note: not restored: \($0)\n" }.joined()
        FileHandle.standardOutput.write(Data(output.utf8))
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
