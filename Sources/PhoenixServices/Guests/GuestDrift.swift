import Foundation
import PhoenixCore
import PhoenixProxmox

/// How a guest on the cluster differs from what the configuration asks for, and which side moved.
public struct GuestDrift: Sendable {
    public enum Cause: String, Sendable {
        /// The configuration asks for what it asked when phoenix converged the guest: the cluster moved.
        case changedOnCluster = "changed on the cluster"
        /// The configuration changed since phoenix converged the guest (the cluster may have moved too).
        case configurationChanged = "configuration changed"
        case neverConverged = "never converged"
        case absent = "absent from the cluster"
    }

    public let id: Int
    public let name: String
    public let cause: Cause
    public let changes: [ConfigChange]

    /// Every enabled guest: absent ones, and each present one's configuration read afresh (one bulk
    /// read plus one per guest: drift must see settings the bulk read does not show).
    public static func check(estate: Estate, records: [Int: GuestRecord], client: ProxmoxClient) async throws(ProxmoxError) -> [GuestDrift] {
        let cluster = try await client.guestsByID()
        let wanted = estate.guests.filter(\.enabled)
        var drift = wanted.filter { cluster[$0.id] == nil }.map { GuestDrift(id: $0.id, name: $0.name, cause: .absent, changes: []) }
        let present = wanted.compactMap { guest in cluster[guest.id].map { (guest, $0) } }
        for (plan, (guest, _)) in zip(try await client.configPlans(for: present), present) where !plan.changes.isEmpty {
            let cause: Cause
            if let record = records[guest.id] {
                cause = record.fingerprint == ProxmoxGuestConfig.fingerprint(for: guest) ? .changedOnCluster : .configurationChanged
            } else {
                cause = .neverConverged
            }
            drift.append(GuestDrift(id: guest.id, name: guest.name, cause: cause, changes: plan.changes))
        }
        return drift.sorted { $0.id < $1.id }
    }

    public var line: String {
        let detail = changes.map { "\($0.key): \($0.from ?? "(unset)") → \($0.to)" }.joined(separator: ", ")
        return TextRules.printable("\(cause.rawValue): guest \(id) \(name)" + (detail.isEmpty ? "" : " (\(detail))"), limit: 400)
    }

    public var json: JSONValue {
        .object([
            ("id", .string(String(id))), ("drift", .string(cause.rawValue)),
            ("changes", .array(changes.map { .object([("key", .string($0.key)), ("from", $0.from.map(JSONValue.string) ?? .null), ("to", .string($0.to))]) })),
        ])
    }
}
