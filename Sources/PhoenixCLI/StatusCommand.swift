import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
import PhoenixServices
import PhoenixState

/// `phoenix status`: every configured guest beside what the cluster reports, from one bulk read.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show every guest: configured, and as the cluster reports it (one API call).",
        discussion: """
            With a state store, the note also says what converge would look at without reading the guest: settings that wait \
            for a reboot, a configuration changed since the guest was last converged, or a guest changed on the cluster since.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var proxmox: ProxmoxOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let estate = try global.loadValidEstate()
        let store = try await proxmox.stateStore.location.existing()
        let read = try await proxmox.withClient { client async in
            var environment = KindEnvironment(estate: estate, stages: [.guests], stats: RunStats())
            environment.proxmox = client
            return await SyncService.assemble(environment).readStatus(of: GuestSettings.self, store: store)
        }
        let status = try read.orFail()
        FileHandle.standardOutput.write(Data((format == .json ? JSONOutput.string(status.json) : status.text).utf8))
    }
}

/// `status` for people: a table (the JSON is the service's, `GuestStatus.json`).
extension GuestStatus {
    var text: String {
        let header = ["ID", "KIND", "NAME", "STATUS", "NODE", "NOTE"]
        let table = [header] + rows.map { [String($0.id), $0.kind, $0.name, $0.status, $0.node, $0.notes.joined(separator: "; ")] }
        let widths = header.indices.map { column in table.map { TextRules.printable($0[column]).count }.max() ?? 0 }
        let lines = table.map { row in
            row.indices.map { TextRules.printable(row[$0]).padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
