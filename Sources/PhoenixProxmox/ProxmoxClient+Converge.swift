import Foundation
import PhoenixCore

/// What `converge` would change on one guest.
public struct GuestConfigPlan: Sendable {
    public let guest: ProxmoxGuest
    public let changes: [ConfigChange]
}

extension ProxmoxClient {
    /// Reads these guests' configurations in parallel and compares each it with what the configuration asks for.
    public func configPlans(for guests: [(Guest, ProxmoxGuest)]) async throws(ProxmoxError) -> [GuestConfigPlan] {
        let results = await withTaskGroup(of: (Int, Result<GuestConfigPlan, ProxmoxError>).self) { group in
            for (index, pair) in guests.enumerated() {
                group.addTask {
                    do throws(ProxmoxError) {
                        let config = try await self.get("\(pair.1.path)/config")
                        var actual: [String: String] = [:]
                        if case let .object(members) = config {
                            for member in members {
                                switch member.value {
                                case let .string(text): actual[member.key] = text
                                case let .number(number): actual[member.key] = JSONWriter.number(number)
                                case let .bool(flag): actual[member.key] = flag ? "1" : "0"
                                default: continue
                                }
                            }
                        }
                        var changes = ProxmoxGuestConfig.differences(desired: ProxmoxGuestConfig.settings(for: pair.0), actual: actual)
                        if let tags = ProxmoxGuestConfig.tagChange(desired: pair.0.hardware.tags, actual: actual["tags"]) { changes.append(tags) }
                        return (index, .success(GuestConfigPlan(guest: pair.1, changes: changes)))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var collected: [(Int, Result<GuestConfigPlan, ProxmoxError>)] = []
            for await result in group { collected.append(result) }
            return collected.sorted { $0.0 < $1.0 }.map(\.1)
        }
        return try results.map { result throws(ProxmoxError) in try result.get() }
    }

    /// Applies a plan; returns the settings that wait for a reboot (a running guest takes some only then).
    public func apply(_ plan: GuestConfigPlan) async throws(ProxmoxError) -> [String] {
        guard !plan.changes.isEmpty else { return [] }
        let task = try await put("\(plan.guest.path)/config", plan.changes.map { ($0.key, $0.to) })
        try await waitFor(task, call: "PUT \(plan.guest.path)/config", timeout: 120)
        guard plan.guest.status == "running", case let .array(items) = try await get("\(plan.guest.path)/pending") else { return [] }
        let changed = Set(plan.changes.map(\.key))
        return items.compactMap { item in
            guard case let .string(key)? = item["key"], changed.contains(key), item["pending"] != nil else { return nil }
            return key
        }.sorted()
    }

    /// Reboots a guest and waits for the task.
    public func reboot(_ guest: ProxmoxGuest, timeout: TimeInterval) async throws(ProxmoxError) {
        let task = try await post("\(guest.path)/status/reboot")
        try await waitFor(task, call: "POST \(guest.path)/status/reboot", timeout: timeout)
    }
}
