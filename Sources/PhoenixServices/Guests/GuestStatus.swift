import Foundation
import PhoenixCore

/// `phoenix status`: every configured guest beside what the cluster reports (one bulk read), and
/// what the state store says converge would look at without reading the guest.
public struct GuestStatus: Sendable {
    public struct Row: Sendable, Equatable {
        public var id: Int
        public var kind: String
        public var name: String
        /// As the cluster reports it, or `absent`.
        public var status: String
        public var node: String
        /// Template, disabled, changed since converge, reboot pending, not in the configuration.
        public var notes: [String]
        /// Configured, enabled and not a template: a guest that should be running.
        public var shouldRun: Bool

        public init(id: Int, kind: String, name: String, status: String, node: String, notes: [String], shouldRun: Bool = false) {
            self.id = id
            self.kind = kind
            self.name = name
            self.status = status
            self.node = node
            self.notes = notes
            self.shouldRun = shouldRun
        }
    }

    public var rows: [Row]

    public init(rows: [Row]) { self.rows = rows }

    public static func read(estate: Estate, client: any ProxmoxAPI, records: [Int: GuestRecord]) async throws(ProxmoxError) -> GuestStatus {
        let cluster = try await client.guests()
        let byID = Dictionary(cluster.map { ($0.vmid, $0) }, uniquingKeysWith: { first, _ in first })
        let configured = Set(estate.guests.map(\.id))
        var rows: [Row] = estate.guests.map { guest in
            let actual = byID[guest.id]
            var notes = [guest.isTemplate ? "template" : (guest.enabled ? "" : "disabled")].filter { !$0.isEmpty }
            if let actual, let record = records[guest.id] { notes += Self.notes(guest, actual, record) }
            return Row(
                id: guest.id, kind: guest.kind == .lxc ? "lxc" : "vm", name: guest.name, status: actual?.status ?? "absent", node: actual?.node ?? "-",
                notes: notes, shouldRun: guest.enabled && !guest.isTemplate)
        }
        for guest in cluster where !configured.contains(guest.vmid) {
            rows.append(
                Row(
                    id: guest.vmid, kind: guest.kind == .lxc ? "lxc" : "vm", name: guest.name, status: guest.status, node: guest.node,
                    notes: ["not in the configuration"]))
        }
        return GuestStatus(rows: rows)
    }

    /// What the state store says of a guest compared with the configuration and the bulk read.
    public static func notes(_ guest: Guest, _ actual: ProxmoxGuest, _ record: GuestRecord) -> [String] {
        var notes: [String] = []
        if record.fingerprint != ProxmoxGuestConfig.fingerprint(for: guest) {
            notes.append("configuration changed since run \(record.run) (phoenix converge)")
        } else if record.observed != actual.observed {
            notes.append("changed on the cluster since run \(record.run)")
        }
        if !record.pending.isEmpty && actual.status == "running" { notes.append("reboot pending: \(record.pending.joined(separator: ", "))") }
        return notes
    }
}
