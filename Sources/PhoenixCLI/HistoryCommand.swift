import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState

/// `phoenix history`: the runs, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "List the runs (sync, rollback, converge): when, who, what changed, outcome.")

    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Option(name: .long, help: "How many runs.") var limit = 20

    func run() async throws {
        let runs: [RunRecord]
        let store = try await target.existingStore()
        do { runs = try await store?.runs(limit: limit) ?? [] } catch { throw fail(error.description) }
        let out =
            format == .json
            ? JSONOutput.string(RunHistory(runs: runs).json) : RunHistory(runs: runs).text(statePath: try target.stateStore.location.description)
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// `history` for scripts (field names a contract) and for people.
struct RunHistory {
    let runs: [RunRecord]
    let formatter = ISO8601DateFormatter()

    var json: JSONValue {
        .object([
            ("version", .number(1)),
            (
                "runs",
                .array(
                    runs.map { run in
                        .object([
                            ("id", .number(Double(run.id))), ("started_at", .string(formatter.string(from: run.startedAt))),
                            ("finished_at", run.finishedAt.map { .string(formatter.string(from: $0)) } ?? .null), ("user", .string(run.user)),
                            ("host", .string(run.host)), ("command", .string(run.command)), ("outcome", .string(run.outcome)),
                            ("summary", .string(run.summary)), ("trigger", .string(run.trigger?.kind.rawValue ?? "cli")),
                            ("commit", run.commit.map(JSONValue.string) ?? .null),
                            ("previous_commit", run.previousCommit.map(JSONValue.string) ?? .null),
                            ("stages", .array(run.stages.map { .string($0.rawValue) })),
                        ])
                    })
            ),
        ])
    }

    func text(statePath: String) -> String {
        var out = runs.isEmpty ? "No runs recorded in \(statePath).\n" : ""
        for run in runs {
            // An agent's run says why it ran and which commit it converged to.
            let why =
                run.trigger.map { trigger in
                    " (\([trigger.kind.rawValue, trigger.provider, trigger.delivery, trigger.actor].compactMap { $0 }.joined(separator: " "))"
                        + (run.commit.map { " \($0.prefix(12))" } ?? "") + ")"
                } ?? ""
            out += "\(run.id)  \(formatter.string(from: run.startedAt))  \(run.user)@\(run.host)  \(run.command)\(why)  \(run.outcome): \(run.summary)\n"
        }
        return out
    }
}
