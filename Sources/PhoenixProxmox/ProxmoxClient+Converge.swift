import Foundation
import PhoenixCore

extension ProxmoxClient {
    /// Reads these guests' configurations in parallel and compares each it with what the configuration asks for.
    public func configPlans(for guests: [(Guest, ProxmoxGuest)]) async throws(ProxmoxError) -> [GuestConfigPlan] {
        try await inParallel(guests) { (guest, actual) async throws(ProxmoxError) -> GuestConfigPlan in
            let config = try await self.get("\(actual.path)/config")
            var current: [String: String] = [:]
            if case let .object(members) = config {
                for member in members {
                    switch member.value {
                    case let .string(text): current[member.key] = text
                    case let .number(number): current[member.key] = JSONWriter.number(number)
                    case let .bool(flag): current[member.key] = flag ? "1" : "0"
                    default: continue
                    }
                }
            }
            return GuestConfigPlan(guest, actual: actual, config: current)
        }
    }

    /// Applies a plan; returns the settings that wait for a reboot (a running guest takes some only then).
    public func apply(_ plan: GuestConfigPlan) async throws(ProxmoxError) -> [String] {
        guard !plan.changes.isEmpty else { return [] }
        let task = try await put("\(plan.guest.path)/config", plan.changes.map { ($0.key, $0.to) })
        try await waitFor(task, call: "PUT \(plan.guest.path)/config", timeout: 120)
        guard plan.guest.status == "running" else { return [] }
        return try await pendingSettings(plan.guest, among: plan.changes.map(\.key))
    }

    /// Which of `keys` the guest holds as pending: set, but taken only at its next reboot.
    public func pendingSettings(_ guest: ProxmoxGuest, among keys: [String]) async throws(ProxmoxError) -> [String] {
        guard case let .array(items) = try await get("\(guest.path)/pending") else { return [] }
        let wanted = Set(keys)
        return items.compactMap { item in
            guard case let .string(key)? = item["key"], wanted.contains(key), item["pending"] != nil else { return nil }
            return key
        }.sorted()
    }

    /// Puts back the values a plan replaced: the previous value of each changed key, and keys that
    /// were unset before are deleted again. Returns what could not be put back (empty on success).
    public func restore(_ plan: GuestConfigPlan) async throws(ProxmoxError) {
        let previous = plan.changes.compactMap { change in change.from.map { (change.key, $0) } }
        let unset = plan.changes.filter { $0.from == nil }.map(\.key)
        guard !previous.isEmpty || !unset.isEmpty else { return }
        let task = try await put("\(plan.guest.path)/config", previous + (unset.isEmpty ? [] : [("delete", unset.joined(separator: ","))]))
        try await waitFor(task, call: "PUT \(plan.guest.path)/config (restoring)", timeout: 120)
    }

    /// Reboots a guest and waits for the task.
    public func reboot(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError) {
        let task = try await post("\(guest.path)/status/reboot")
        try await waitFor(task, call: "POST \(guest.path)/status/reboot", timeout: timeout)
    }
}
