import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState

/// `phoenix drift`: installed vs last applied vs desired.
struct DriftCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Compare what is installed with what phoenix last applied and with what the configuration asks for.",
        discussion: "Says which side moved: changed by hand, configuration changed, or both. Exit 2 when anything drifted."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() throws {
        let estate = try global.loadValidEstate()
        let items: [DriftItem]
        let store = try target.existingStore()
        do { items = try target.engine(for: estate, stacksDirectory: global.resolvedStacksDirectory).drift(store: store) } catch { throw fail(error.description) }
        let drifted = items.filter(\.drift.isDrift)
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)), ("drifted", .bool(!drifted.isEmpty)),
                ("resources", .array(items.map {
                    .object([("id", .string($0.id)), ("unit", .string($0.unit.key)), ("path", .string($0.path)), ("drift", .string($0.drift.rawValue))])
                })),
            ])
            FileHandle.standardOutput.write(Data((JSONWriter().string(document) + "\n").utf8))
        } else {
            var out = ""
            for item in drifted { out += "\(item.drift.rawValue): \(item.id)  \(item.path) (\(item.unit))\n" }
            out += drifted.isEmpty ? "No drift: \(items.count) resources as phoenix applied them.\n" : "\(drifted.count) of \(items.count) resources drifted.\n"
            FileHandle.standardOutput.write(Data(out.utf8))
        }
        if !drifted.isEmpty { throw ExitCode(2) }
    }
}

/// `phoenix history`: the runs, newest first.
struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List sync runs: when, who, what changed, outcome.")

    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Option(name: .long, help: "How many runs.") var limit = 20

    func run() throws {
        let runs: [RunRecord]
        let store = try target.existingStore()
        do { runs = try store?.runs(limit: limit) ?? [] } catch { throw fail(error.description) }
        let formatter = ISO8601DateFormatter()
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)),
                ("runs", .array(runs.map { run in
                    .object([
                        ("id", .number(Double(run.id))), ("started_at", .string(formatter.string(from: run.startedAt))),
                        ("finished_at", run.finishedAt.map { .string(formatter.string(from: $0)) } ?? .null), ("user", .string(run.user)),
                        ("host", .string(run.host)), ("command", .string(run.command)), ("outcome", .string(run.outcome)), ("summary", .string(run.summary)),
                    ])
                })),
            ])
            FileHandle.standardOutput.write(Data((JSONWriter().string(document) + "\n").utf8))
            return
        }
        var out = runs.isEmpty ? "No runs recorded in \(target.statePath).\n" : ""
        for run in runs {
            out += "\(run.id)  \(formatter.string(from: run.startedAt))  \(run.user)@\(run.host)  \(run.command)  \(run.outcome): \(run.summary)\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// `phoenix rollback RUN`: re-apply the state an earlier successful run left.
struct RollbackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback", abstract: "Re-apply what an earlier successful run left installed (phoenix history lists the runs).")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "The run to return to.") var runID: Int64

    func run() throws {
        let estate = try global.loadValidEstate()
        let store = try target.writableStore()
        let outcome: SyncOutcome
        do {
            outcome = try target.engine(for: estate, stacksDirectory: global.resolvedStacksDirectory).rollback(to: runID, store: store, command: "rollback \(runID)")
        } catch {
            throw fail(error.description)
        }
        let output = format == .json ? JSONWriter().string(PlanPrinter.outcomeJSON(outcome)) + "\n" : PlanPrinter.outcomeText(outcome)
        FileHandle.standardOutput.write(Data(output.utf8))
        if !outcome.succeeded { throw ExitCode.failure }
    }
}
