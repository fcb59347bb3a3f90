import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixServices
import PhoenixState

/// `phoenix drift`: installed vs last applied vs desired.
struct DriftCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drift",
        abstract: "Compare what is installed with what phoenix last applied and with what the configuration asks for.",
        discussion: """
            Says which side moved: changed by hand, configuration changed, or both. With the API configured (--api or \
            $PHOENIX_API) the guests too: every guest's Proxmox configuration read afresh and compared. Exit 2 when anything drifted.
            """
    )

    @OptionGroup var global: GlobalOptions
    @OptionGroup var target: SyncOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "The stages to check (default: all).") var stages: [String] = []

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try await target.existingStore()
        // Drift reads every resource afresh: the guests too, not only those the store says changed.
        let (drifts, _) = try await target.withService(
            estate: estate, stages: try parseStages(stages), stacksDirectory: global.resolvedStacksDirectory, store: store, refresh: true
        ) { service in try await service.drift(store: store) }
        if let failed = drifts.first(where: { $0.failure != nil }) {
            throw fail("\(failed.kind): the drift check cannot read what is there: \(failed.failure!)")
        }
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(DriftPrinter.json(drifts)) : DriftPrinter.text(drifts)).utf8))
        // A resource that cannot be compared is no clean result; anything drifted is exit 2.
        if drifts.contains(where: { !$0.uncheckable.isEmpty }) { throw ExitCode.failure }
        if drifts.contains(where: { !$0.drifted.isEmpty }) { throw ExitCode(2) }
    }
}

/// Every kind's drift as text (each kind's lines) or JSON (each kind's member; `drifted` over all).
enum DriftPrinter {
    static func text(_ drifts: [KindDrift]) -> String {
        drifts.flatMap(\.lines).map { TextRules.printable($0, limit: 600) + "\n" }.joined()
    }

    static func json(_ drifts: [KindDrift]) -> JSONValue {
        var document = JSONValue.object([
            ("version", .number(1)), ("drifted", .bool(drifts.contains { !$0.drifted.isEmpty })), ("resources", .array([])),
        ])
        for drift in drifts where !drift.member.isEmpty { document = document.setting(drift.member, .array(drift.entries)) }
        let unchecked = drifts.compactMap { drift in drift.notChecked.map { JSONValue.object([("kind", .string(drift.kind)), ("reason", .string($0))]) } }
        return unchecked.isEmpty ? document : document.setting("not_checked", .array(unchecked))
    }
}
