import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixState

/// `phoenix drift`: installed vs last applied vs desired.
struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Compare what is installed with what phoenix last applied and with what the configuration asks for.",
        discussion: "Says which side moved: changed by hand, configuration changed, or both. Exit 2 when anything drifted."
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try target.existingStore()
        let items = try await target.withEngine(for: estate, stacksDirectory: global.resolvedStacksDirectory) { engine throws -> [DriftItem] in
            do throws(EngineError) { return try engine.drift(store: store) } catch { throw fail(error.description) }
        }
        let drifted = items.filter(\.drift.isDrift)
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)), ("drifted", .bool(!drifted.isEmpty)),
                ("resources", .array(items.map {
                    .object([("id", .string($0.id)), ("unit", .string($0.unit.key)), ("path", .string($0.path)), ("drift", .string($0.drift.rawValue))])
                })),
            ])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            var out = ""
            for item in drifted { out += "\(item.drift.rawValue): \(item.id)  \(item.path) (\(item.unit))\n" }
            out += drifted.isEmpty ? "No drift: \(items.count) resources as phoenix applied them.\n" : "\(drifted.count) of \(items.count) resources drifted.\n"
            FileHandle.standardOutput.write(Data(out.utf8))
        }
        if !drifted.isEmpty { throw ExitCode(2) }
    }
}
