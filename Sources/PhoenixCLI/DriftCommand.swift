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

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try target.existingStore()
        let items = try await target.withEngine(for: estate, stacksDirectory: global.resolvedStacksDirectory) { engine throws -> [DriftItem] in
            do throws(EngineError) { return try await engine.drift(store: store) } catch { throw fail(error.description) }
        }
        let drifted = items.filter(\.drift.isDrift)
        var guests: [GuestDrift]?
        if target.connection.isConfigured {
            let records: [Int: GuestRecord]
            do { records = try store?.guestRecords() ?? [:] } catch { throw fail(error.description) }
            guests = try await target.connection.withClient { client async throws(ProxmoxError) in
                try await GuestDrift.check(estate: estate, records: records, client: client)
            }
        }
        if format == .json {
            var document = JSONValue.object([
                ("version", .number(1)), ("drifted", .bool(!drifted.isEmpty || guests?.isEmpty == false)),
                (
                    "resources",
                    .array(
                        items.map {
                            .object([("id", .string($0.id)), ("unit", .string($0.unit.key)), ("path", .string($0.path)), ("drift", .string($0.drift.rawValue))])
                        })
                ),
            ])
            if let guests { document = document.adding("guests", .array(guests.map(\.json))) }
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            var out = ""
            for item in drifted { out += "\(item.drift.rawValue): \(item.id)  \(item.path) (\(item.unit))\n" }
            out += drifted.isEmpty ? "No drift: \(items.count) resources as phoenix applied them.\n" : "\(drifted.count) of \(items.count) resources drifted.\n"
            if let guests {
                for guest in guests { out += guest.line + "\n" }
                out += guests.isEmpty ? "No guest drift: every guest on the cluster as configured.\n" : "\(guests.count) guests drifted.\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
        }
        if !drifted.isEmpty || guests?.isEmpty == false { throw ExitCode(2) }
    }
}
