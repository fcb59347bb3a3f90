import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixProxmox
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

    /// What the state store says of a guest compared with the configuration and the bulk read.
    static func notes(_ guest: Guest, _ actual: ProxmoxGuest, _ record: GuestRecord) -> [String] {
        var notes: [String] = []
        if record.fingerprint != ProxmoxGuestConfig.fingerprint(for: guest) {
            notes.append("configuration changed since run \(record.run) (phoenix converge)")
        } else if record.observed != actual.observed {
            notes.append("changed on the cluster since run \(record.run)")
        }
        if !record.pending.isEmpty && actual.status == "running" { notes.append("reboot pending: \(record.pending.joined(separator: ", "))") }
        return notes
    }

    func run() async throws {
        let estate = try global.loadValidEstate()
        let cluster = try await proxmox.withClient { client async throws(ProxmoxError) in try await client.guests() }
        let byID = Dictionary(cluster.map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
        let records: [Int: GuestRecord]
        do { records = try StateLocation(option: proxmox.state).existing()?.guestRecords() ?? [:] } catch { throw fail("\(error)") }
        let configured = Set(estate.guests.map(\.id))
        var rows: [[String]] = []
        for guest in estate.guests {
            let actual = byID[guest.id]
            var notes = [guest.isTemplate ? "template" : (guest.enabled ? "" : "disabled")].filter { !$0.isEmpty }
            if let actual, let record = records[guest.id] { notes += Self.notes(guest, actual, record) }
            rows.append([
                String(guest.id), guest.kind == .lxc ? "lxc" : "vm", guest.name, actual?.status ?? "absent", actual?.node ?? "-",
                notes.joined(separator: "; "),
            ])
        }
        for guest in cluster where !configured.contains(guest.vmid) {
            rows.append([String(guest.vmid), guest.kind == .lxc ? "lxc" : "vm", guest.name, guest.status, guest.node, "not in the configuration"])
        }
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)),
                (
                    "guests",
                    .array(
                        rows.map { row in
                            .object([
                                ("id", .string(row[0])), ("kind", .string(row[1])), ("name", .string(row[2])), ("status", .string(row[3])),
                                ("node", .string(row[4])), ("note", .string(row[5])),
                            ])
                        })
                ),
            ])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
            return
        }
        let header = ["ID", "KIND", "NAME", "STATUS", "NODE", "NOTE"]
        let widths = header.indices.map { column in ([header] + rows).map { TextRules.printable($0[column]).count }.max() ?? 0 }
        let lines = ([header] + rows).map { row in
            row.indices.map { TextRules.printable(row[$0]).padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
    }
}
