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
    public func converge(
        _ wanted: [Guest], records: [Int: GuestRecord], store: (any StateBackend)?, run: Int64?, unfinished: Set<String> = []
    ) async throws(ProxmoxError) -> Report {
        var report = Report()
        let cluster = try await client.guestsByID()
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
        let plans = try await client.configPlans(for: toRead)
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
            if let run, let store {
                do throws(GuestFailure) {
                    let waiting = try await apply(plan, guest: guest, store: store, run: run)
                    change.waitingForReboot = waiting
                    // Settings still pending from an earlier run wait for the same reboot.
                    let pending = Array(Set(waiting + (records[id]?.pending ?? []))).sorted()
                    if !waiting.isEmpty && reboot {
                        try await rebooting(plan.guest)
                        report.lines.append("\(id) \(name): rebooted for \(pending.joined(separator: ", "))")
                        applied.append((id, []))
                    } else {
                        if !waiting.isEmpty {
                            report.lines.append("\(id) \(name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                        }
                        applied.append((id, plan.guest.status == "running" ? pending : []))
                    }
                } catch {
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

    private func rebooting(_ guest: ProxmoxGuest) async throws(GuestFailure) {
        do { try await client.reboot(guest, timeout: 300) } catch { throw GuestFailure(message: "the reboot failed: \(error.description)") }
    }

    /// One guest's change: journalled, applied in one call, read back; the previous values put
    /// back when Proxmox refuses it or a setting did not take. Returns the settings waiting for a reboot.
    private func apply(_ plan: GuestConfigPlan, guest: Guest, store: any StateBackend, run: Int64) async throws(GuestFailure) -> [String] {
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
            throw await undo(plan, because: error.description, journal: journal)
        }
        journal(.applied)
        do throws(UnitFailure) { try failpoints.hit(id, .after) } catch { throw await undo(plan, because: error.description, journal: journal) }
        // Verified by reading the guest back: every changed setting shows the new value (a
        // setting waiting for a reboot is held by Proxmox as pending, which counts).
        say("reading it back")
        let notTaken: [ConfigChange]
        do throws(ProxmoxError) {
            let reread = try await client.configPlans(for: [(guest, plan.guest)])
            let changedKeys = Set(plan.changes.map(\.key)).subtracting(waiting)
            notTaken = reread.first?.changes.filter { changedKeys.contains($0.key) } ?? []
        } catch {
            throw await undo(plan, because: "reading it back failed: \(error.description)", journal: journal)
        }
        if let first = notTaken.first {
            let shown = notTaken.map { "\($0.key) is \($0.from ?? "unset"), not \($0.to)" }.joined(separator: "; ")
            throw await undo(plan, because: "\(first.key) did not take (\(shown))", journal: journal)
        }
        journal(.verified)
        return waiting
    }

    /// Puts the previous values back after a failed change and says what happened.
    private func undo(_ plan: GuestConfigPlan, because reason: String, journal: (JournalPhase, String) -> Void) async -> GuestFailure {
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
