import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixState

/// The `guests` stage: each guest's settings (cores, memory, network, start at boot and order,
/// tags) converged through the Proxmox API, one resource `guest:<id>` per guest.
///
/// Round trips: one bulk read of the cluster, plus one configuration read for each guest that may
/// have changed. A guest is not read when the state store says phoenix converged it, the
/// configuration asks for the same as then, and the bulk read shows it as it was right after
/// (name, tags, cores, memory, node); `refresh` reads every guest.
///
/// Each change is journalled (intent, applied, verified or restored), can be interrupted at its
/// failpoints (`guest:<id>:before|after:crash|error`), is verified by reading the guest back, and
/// is undone (the previous values put back) when Proxmox refuses it or it did not take.
public struct GuestSettings: Sendable {
    public var estate: Estate
    public var client: ProxmoxClient
    public var failpoints = Failpoints.none
    public var reporter: any ProgressReporter = SilentProgress()
    /// Read every guest, even those unchanged since phoenix converged them.
    public var refresh = false
    /// Reboot running guests whose changes wait for a reboot.
    public var reboot = false
    /// How many guests change at once (one change per guest).
    public var parallelism = 4

    public init(estate: Estate, client: ProxmoxClient) {
        self.estate = estate
        self.client = client
    }

    /// One guest whose settings differ from the configuration.
    public struct GuestChange: Sendable {
        public let id: Int
        public let name: String
        public let readBecause: String
        public let changes: [ConfigChange]
        /// Settings Proxmox holds for the guest's next reboot.
        public var waitingForReboot: [String] = []
        /// Nil while planned or once converged; why it failed otherwise.
        public var failure: String?
        /// The API calls its change took, and how long it took (for the apply benchmark).
        public var calls = 0
        public var seconds = 0.0

        public var resourceID: String { GuestSettingsKind.id(id) }
    }

    /// What a run found and did: lines for people, the changed guests, and what the state store
    /// keeps of each guest left as configured.
    public struct Report: Sendable {
        public var lines: [String] = []
        public var changed: [GuestChange] = []
        public var converged: [GuestRecord] = []
        public var forgotten: [Int] = []
        public var read = 0
        public var notRead = 0

        /// The guests whose change failed, by resource id, with why.
        public var failures: [String: String] {
            Dictionary(uniqueKeysWithValues: changed.compactMap { change in change.failure.map { (change.resourceID, $0) } })
        }
    }

    /// Why a guest's configuration is read, or nil when it is not.
    public static func readReason(fingerprint: String, observed: ProxmoxGuest, record: GuestRecord?, refresh: Bool, interrupted: Bool) -> String? {
        guard let record else { return "not converged by phoenix before" }
        if interrupted { return "an interrupted run changed it without finishing" }
        if refresh { return "--refresh" }
        if record.fingerprint != fingerprint { return "the configuration changed since run \(record.run)" }
        if record.observed != observed.observed { return "changed on the cluster since run \(record.run)" }
        return nil
    }

    /// Plans the guests (and unless `run` is nil applies the plan, recording every change in that
    /// run's journal). `unfinished`: resources an interrupted run changed without finishing.
    /// `settled` hears of each guest as soon as it is done with (nil: as configured; else why it
    /// failed), so what needs one guest need not wait for all.
    public func converge(
        _ wanted: [Guest], records: [Int: GuestRecord], store: (any StateBackend)?, run: Int64?, unfinished: Set<String> = [],
        settled: ResourceWaiter? = nil
    ) async throws(ProxmoxError) -> Report {
        var report = Report()
        let cluster: [Int: ProxmoxGuest]
        do { cluster = try await client.guestsByID() } catch {
            await settled?.failAll(kind: GuestSettingsKind().name, "the Proxmox API failed: \(error.description)")
            throw error
        }
        var toRead: [(Guest, ProxmoxGuest)] = []
        var reasons: [Int: String] = [:]
        for guest in wanted {
            guard let actual = cluster[guest.id] else {
                report.lines.append("\(guest.id) \(guest.name): absent (phoenix create \(guest.id) first)")
                if records[guest.id] != nil { report.forgotten.append(guest.id) }
                continue
            }
            let reason = Self.readReason(
                fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: actual, record: records[guest.id], refresh: refresh,
                interrupted: unfinished.contains(GuestSettingsKind.id(guest.id)))
            if let reason {
                toRead.append((guest, actual))
                reasons[guest.id] = reason
            } else {
                report.notRead += 1
            }
        }
        report.read = toRead.count
        let plans: [GuestConfigPlan]
        do { plans = try await client.configPlans(for: toRead) } catch {
            await settled?.failAll(kind: GuestSettingsKind().name, "the Proxmox API failed: \(error.description)")
            throw error
        }
        // Every changed guest at once, within the parallelism (one change per guest); the report
        // keeps the plan's order.
        let changedPlans = zip(plans, toRead).filter { !$0.0.changes.isEmpty }.map { (plan: $0.0, guest: $0.1.0) }
        let changing = Set(changedPlans.map(\.guest.id))
        for guest in wanted where !changing.contains(guest.id) || run == nil { await settled?.settle(GuestSettingsKind.id(guest.id), failure: nil) }
        let outcomes: [ApplyOutcome?] =
            if let run, let store {
                await bounded(changedPlans, limit: parallelism) { item in
                    let outcome = await self.applyAndReboot(
                        item.plan, guest: item.guest, pending: records[item.guest.id]?.pending ?? [], store: store, run: run)
                    if case let .failure(error) = outcome.result {
                        await settled?.settle(GuestSettingsKind.id(item.guest.id), failure: error.message)
                    } else {
                        await settled?.settle(GuestSettingsKind.id(item.guest.id), failure: nil)
                    }
                    return outcome
                }
            } else {
                changedPlans.map { _ in nil }
            }
        var outcomeByID: [Int: ApplyOutcome] = [:]
        for (item, outcome) in zip(changedPlans, outcomes) { if let outcome { outcomeByID[item.guest.id] = outcome } }
        var applied: [(id: Int, pending: [String])] = []
        for (plan, (guest, _)) in zip(plans, toRead) {
            let id = plan.guest.vmid
            let name = guest.name
            let fingerprint = ProxmoxGuestConfig.fingerprint(for: guest)
            if plan.changes.isEmpty {
                report.lines.append("\(id) \(name): as configured")
                report.converged.append(
                    GuestRecord(vmid: id, fingerprint: fingerprint, observed: plan.guest.observed, run: run ?? 0, pending: records[id]?.pending ?? []))
                continue
            }
            report.lines.append("\(id) \(name): read because \(reasons[id] ?? "asked")")
            for change in plan.changes { report.lines.append("\(id) \(name): \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
            var change = GuestChange(id: id, name: name, readBecause: reasons[id] ?? "", changes: plan.changes)
            if let outcome = outcomeByID[id] {
                change.calls = outcome.calls
                change.seconds = outcome.seconds
                switch outcome.result {
                case let .success((waiting, pending, rebooted)):
                    change.waitingForReboot = waiting
                    if rebooted {
                        report.lines.append("\(id) \(name): rebooted for \(pending.joined(separator: ", "))")
                        applied.append((id, []))
                    } else {
                        if !waiting.isEmpty {
                            report.lines.append("\(id) \(name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                        }
                        applied.append((id, plan.guest.status == "running" ? pending : []))
                    }
                case let .failure(error):
                    change.failure = error.message
                    report.lines.append("\(id) \(name): failed: \(error.message)")
                    report.forgotten.append(id)
                }
            }
            report.changed.append(change)
        }
        // Settings an earlier run left waiting for a reboot, on guests this run did not change.
        let changed = Set(report.changed.map(\.id))
        for guest in wanted where !changed.contains(guest.id) {
            guard let record = records[guest.id], !record.pending.isEmpty, let actual = cluster[guest.id] else { continue }
            let name = guest.name
            let kept = report.converged.first { $0.vmid == guest.id }
            let (fingerprint, observed) = kept.map { ($0.fingerprint, $0.observed) } ?? (record.fingerprint, record.observed)
            report.converged.removeAll { $0.vmid == guest.id }
            func keep(_ pending: [String]) {
                report.converged.append(GuestRecord(vmid: guest.id, fingerprint: fingerprint, observed: observed, run: run ?? record.run, pending: pending))
            }
            if actual.status != "running" {
                keep([])  // a stopped guest takes them at its next start
            } else if reboot && run != nil {
                let still = try await client.pendingSettings(actual, among: record.pending)
                if !still.isEmpty {
                    try await client.reboot(actual, timeout: 300)
                    report.lines.append("\(guest.id) \(name): rebooted for \(still.joined(separator: ", ")) (set by run \(record.run))")
                    applied.append((guest.id, []))
                } else {
                    keep([])
                }
            } else {
                report.lines.append(
                    "\(guest.id) \(name): \(record.pending.joined(separator: ", ")) take effect at the next reboot (set by run \(record.run); --reboot to reboot now)"
                )
                keep(record.pending)
            }
        }
        guard !applied.isEmpty, let run else { return report }
        // One more bulk read: what the cluster shows of the changed guests now is what the next
        // run compares with.
        let after = try await client.guestsByID()
        for (id, pending) in applied {
            guard let guest = estate.guest(id), let now = after[id] else { continue }
            report.converged.append(
                GuestRecord(vmid: id, fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: now.observed, run: run, pending: pending))
        }
        return report
    }

    /// Why one guest's change failed; its previous settings are back (or the message says not).
    struct GuestFailure: Error {
        let message: String
    }

    /// How one guest's change went, and the API calls it took.
    struct ApplyOutcome: Sendable {
        /// The settings waiting for a reboot, all pending ones, and whether it was rebooted.
        let result: Result<(waiting: [String], pending: [String], rebooted: Bool), GuestFailure>
        let calls: Int
        var seconds = 0.0
    }

    /// One guest: the change, then the reboot it waits for when asked.
    private func applyAndReboot(
        _ plan: GuestConfigPlan, guest: Guest, pending earlier: [String], store: any StateBackend, run: Int64
    ) async
        -> ApplyOutcome
    {
        let calls = CallCounter()
        let client = self.client.counting(into: calls)
        let started = Date()
        var outcome = await applyAndReboot(plan, guest: guest, pending: earlier, client: client, calls: calls, store: store, run: run)
        outcome.seconds = Date().timeIntervalSince(started)
        return outcome
    }

    private func applyAndReboot(
        _ plan: GuestConfigPlan, guest: Guest, pending earlier: [String], client: ProxmoxClient, calls: CallCounter, store: any StateBackend, run: Int64
    ) async -> ApplyOutcome {
        do throws(GuestFailure) {
            let waiting = try await apply(plan, guest: guest, client: client, store: store, run: run)
            // Settings still pending from an earlier run wait for the same reboot.
            let pending = Array(Set(waiting + earlier)).sorted()
            if !waiting.isEmpty && reboot {
                do { try await client.reboot(plan.guest, timeout: 300) } catch { throw GuestFailure(message: "the reboot failed: \(error.description)") }
                return ApplyOutcome(result: .success((waiting, pending, true)), calls: calls.total)
            }
            return ApplyOutcome(result: .success((waiting, pending, false)), calls: calls.total)
        } catch {
            return ApplyOutcome(result: .failure(error), calls: calls.total)
        }
    }

    /// One guest's change: journalled, applied in one call, read back; the previous values put
    /// back when Proxmox refuses it or a setting did not take. Returns the settings waiting for a reboot.
    private func apply(
        _ plan: GuestConfigPlan, guest: Guest, client: ProxmoxClient, store: any StateBackend, run: Int64
    ) async throws(GuestFailure) -> [String] {
        let id = GuestSettingsKind.id(plan.guest.vmid)
        let before = Digest.sha256Hex(plan.changes.map { "\($0.key)=\($0.from ?? "")" }.joined(separator: "\n"))
        let after = Digest.sha256Hex(plan.changes.map { "\($0.key)=\($0.to)" }.joined(separator: "\n"))
        func journal(_ phase: JournalPhase, _ detail: String = "") {
            try? store.journal(run: run, resource: id, phase: phase, previousDigest: before, newDigest: after, detail: detail)
        }
        func say(_ text: String) { reporter.report("guests: \(id): \(text)") }
        journal(.intent, plan.changes.map(\.key).joined(separator: ","))
        do throws(UnitFailure) { try failpoints.hit(id, .before) } catch {
            journal(.failed, error.description)
            throw GuestFailure(message: "\(error.description); nothing was changed")
        }
        say("setting \(plan.changes.map(\.key).joined(separator: ", "))")
        let waiting: [String]
        do throws(ProxmoxError) {
            waiting = try await client.apply(plan)
        } catch {
            throw await undo(plan, because: error.description, client: client, journal: journal)
        }
        journal(.applied)
        do throws(UnitFailure) { try failpoints.hit(id, .after) } catch { throw await undo(plan, because: error.description, client: client, journal: journal) }
        // Verified by reading the guest back: every changed setting shows the new value (a
        // setting waiting for a reboot is held by Proxmox as pending, which counts).
        say("reading it back")
        let notTaken: [ConfigChange]
        do throws(ProxmoxError) {
            let reread = try await client.configPlans(for: [(guest, plan.guest)])
            let changedKeys = Set(plan.changes.map(\.key)).subtracting(waiting)
            notTaken = reread.first?.changes.filter { changedKeys.contains($0.key) } ?? []
        } catch {
            throw await undo(plan, because: "reading it back failed: \(error.description)", client: client, journal: journal)
        }
        if let first = notTaken.first {
            let shown = notTaken.map { "\($0.key) is \($0.from ?? "unset"), not \($0.to)" }.joined(separator: "; ")
            throw await undo(plan, because: "\(first.key) did not take (\(shown))", client: client, journal: journal)
        }
        journal(.verified)
        return waiting
    }

    /// Puts the previous values back after a failed change and says what happened.
    private func undo(
        _ plan: GuestConfigPlan, because reason: String, client: ProxmoxClient, journal: (JournalPhase, String) -> Void
    ) async -> GuestFailure {
        reporter.report("guests: guest:\(plan.guest.vmid): \(reason); putting the previous settings back")
        do throws(ProxmoxError) {
            try await client.restore(plan)
        } catch {
            journal(.failed, "\(reason); restoring failed too: \(error.description)")
            return GuestFailure(message: "\(reason); putting the previous settings back failed too: \(error.description)")
        }
        journal(.restored, reason)
        return GuestFailure(message: "\(reason); the previous settings are back")
    }
}

/// `body` on every item, at most `limit` at once; the results in the items' order.
func bounded<Item: Sendable, Output: Sendable>(_ items: [Item], limit: Int, _ body: @escaping @Sendable (Item) async -> Output) async -> [Output] {
    await withTaskGroup(of: (Int, Output).self) { group in
        var next = 0
        func start() {
            guard next < items.count else { return }
            let index = next
            next += 1
            group.addTask { (index, await body(items[index])) }
        }
        for _ in 0..<max(1, limit) { start() }
        var results: [(Int, Output)] = []
        for await result in group {
            results.append(result)
            start()
        }
        return results.sorted { $0.0 < $1.0 }.map(\.1)
    }
}
