import Foundation
import PhoenixCore
import PhoenixEngine

/// The `guests` stage: each guest's settings (cores, memory, network, start at boot and order,
/// tags) converged through the Proxmox API, one resource `guest:<id>` per guest, as a kind on the
/// executor.
///
/// Round trips: one bulk read of the cluster, plus one configuration read for each guest that may
/// have changed. A guest is not read when the state store says phoenix converged it, the
/// configuration asks for the same as then, and the bulk read shows it as it was right after
/// (name, tags, cores, memory, node); `refresh` reads every guest.
///
/// Each change is applied in one call, verified by reading the guest back, and undone (the previous
/// values put back) when Proxmox refuses it or it did not take; the executor journals it and honours
/// its failpoints (`guest:<id>:before|after:crash|error`).
public struct GuestSettings: ConvergentKind {
    public var estate: Estate
    public var client: any ProxmoxAPI
    /// The guests this run converges (enabled, within --target).
    public var wanted: [Guest]
    /// Read every guest, even those unchanged since phoenix converged them.
    public var refresh = false
    /// Reboot running guests whose changes wait for a reboot.
    public var reboot = false

    public init(estate: Estate, client: any ProxmoxAPI, wanted: [Guest]) {
        self.estate = estate
        self.client = client
        self.wanted = wanted
    }

    public let stage = SyncStage.guests
    public var name: String { GuestSettingsKind().name }

    /// A rollback leaves the guests' settings: phoenix keeps their fingerprints, not their values.
    public func notRestored(_ ids: [String], since run: Int64) -> String {
        "the settings of \(ids.joined(separator: ", ")) (changed since run \(run)) stay as they are: phoenix keeps their fingerprints, not their values"
    }
    public func nodes(in context: ResourceGraphContext) -> [ResourceNode] { GuestSettingsKind().nodes(in: context) }

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
        public var read = 0
        public var notRead = 0

        public init(read: Int = 0, notRead: Int = 0) {
            self.read = read
            self.notRead = notRead
        }

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

    // MARK: Observe and plan

    /// The cluster in one bulk read, the guests that may have changed read one by one.
    public struct Observation: Sendable {
        let cluster: [Int: ProxmoxGuest]
        let records: [Int: GuestRecord]
        /// The guests read, with their plans, in the configuration's order.
        let read: [(guest: Guest, plan: GuestConfigPlan, reason: String)]
        let notRead: Int
        /// Guests not on the cluster: a line each, their ids, and those phoenix recorded (to forget).
        let absent: [String]
        let absentIDs: [Int]
        let forgotten: [Int]
    }

    /// What a step changes: the guest's plan.
    public struct Change: Sendable {
        public let guest: Guest
        public let plan: GuestConfigPlan
        public let readBecause: String
        /// Settings an earlier run left waiting for a reboot.
        public let earlierPending: [String]
    }

    public func observe(in context: KindContext) async throws(ResourceFailure) -> Observation {
        let client = self.client.counting(into: CallCounter(into: context.stats, as: .proxmoxCalls))
        let records: [Int: GuestRecord]
        do { records = try await context.store?.guestRecords() ?? [:] } catch { throw .cannotCheck(reason: "the state store: \(error)") }
        do throws(ProxmoxError) {
            let cluster = try await client.guestsByID()
            var toRead: [(Guest, ProxmoxGuest)] = []
            var reasons: [Int: String] = [:]
            var absent: [String] = []
            var absentIDs: [Int] = []
            var forgotten: [Int] = []
            var notRead = 0
            for guest in wanted {
                guard let actual = cluster[guest.id] else {
                    absent.append("\(guest.id) \(guest.name): absent (phoenix create \(guest.id) first)")
                    absentIDs.append(guest.id)
                    if records[guest.id] != nil { forgotten.append(guest.id) }
                    continue
                }
                let reason = Self.readReason(
                    fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: actual, record: records[guest.id], refresh: refresh,
                    interrupted: context.unfinished.contains(GuestSettingsKind.id(guest.id)))
                if let reason {
                    toRead.append((guest, actual))
                    reasons[guest.id] = reason
                } else {
                    notRead += 1
                }
            }
            let plans = try await client.configPlans(for: toRead)
            let read = zip(toRead, plans).map { ($0.0, $1, reasons[$0.0.id] ?? "asked") }
            return Observation(
                cluster: cluster, records: records, read: read, notRead: notRead, absent: absent, absentIDs: absentIDs, forgotten: forgotten)
        } catch {
            throw Self.failure(error)
        }
    }

    public func plan(_ observation: Observation, in context: KindContext) -> KindPlan<Change> {
        var plan = KindPlan<Change>()
        let read = Set(observation.read.map(\.guest.id))
        for guest in wanted where observation.cluster[guest.id] != nil && !read.contains(guest.id) { plan.unchanged.append(GuestSettingsKind.id(guest.id)) }
        for (guest, guestPlan, reason) in observation.read {
            let id = GuestSettingsKind.id(guest.id)
            guard !guestPlan.changes.isEmpty else {
                plan.unchanged.append(id)
                continue
            }
            plan.steps.append(
                Step(
                    resources: [id], target: id, action: .update,
                    reasons: guestPlan.changes.map { ChangeReason(field: $0.key, from: $0.from, to: $0.to) },
                    previousDigest: Digest.sha256Hex(guestPlan.changes.map { "\($0.key)=\($0.from ?? "")" }.joined(separator: "\n")),
                    newDigest: Digest.sha256Hex(guestPlan.changes.map { "\($0.key)=\($0.to)" }.joined(separator: "\n")),
                    detail: guestPlan.changes.map(\.key).joined(separator: ","),
                    change: Change(guest: guest, plan: guestPlan, readBecause: reason, earlierPending: observation.records[guest.id]?.pending ?? [])))
        }
        // Settings an earlier run left waiting for a reboot, on guests this run does not change
        // (a sync with --reboot reboots for them instead: `finish`).
        let touched = Set(plan.steps.map(\.change.guest.id))
        for guest in wanted where !touched.contains(guest.id) && !(reboot && context.run != nil) {
            guard let record = observation.records[guest.id], !record.pending.isEmpty, observation.cluster[guest.id]?.status == "running" else { continue }
            plan.notes.append(
                "\(guest.id) \(guest.name): \(record.pending.joined(separator: ", ")) take effect at the next reboot (set by run \(record.run); --reboot to reboot now)"
            )
        }
        return plan
    }

    // MARK: Apply, verify, restore, record

    /// Returns the settings waiting for a reboot.
    public func apply(_ step: Step<Change>, prepared: Void, in context: StepContext) async throws(ResourceFailure) -> [String] {
        let plan = step.change.plan
        context.say("guests: \(step.id): setting \(plan.changes.map(\.key).joined(separator: ", "))")
        do throws(ProxmoxError) { return try await client(context).apply(plan) } catch { throw Self.failure(error) }
    }

    /// Every changed setting shows the new value (one waiting for a reboot is held by Proxmox as
    /// pending, which counts).
    public func verify(_ step: Step<Change>, applied waiting: [String], in context: StepContext) async throws(ResourceFailure) {
        context.say("guests: \(step.id): reading it back")
        let plan = step.change.plan
        let notTaken: [ConfigChange]
        do throws(ProxmoxError) {
            let reread = try await client(context).configPlans(for: [(step.change.guest, plan.guest)])
            let changedKeys = Set(plan.changes.map(\.key)).subtracting(waiting)
            notTaken = reread.first?.changes.filter { changedKeys.contains($0.key) } ?? []
        } catch {
            throw .refused(system: "Proxmox API", call: error.call, message: "reading it back failed: \(error.description)")
        }
        if let first = notTaken.first {
            throw .verificationFailed(
                check: "\(first.key) did not take", seen: notTaken.map { "\($0.key) is \($0.from ?? "unset"), not \($0.to)" }.joined(separator: "; "))
        }
    }

    public func restore(_ step: Step<Change>, applied: [String]?, after failure: ResourceFailure, in context: StepContext) async -> RestoreOutcome? {
        context.say("guests: \(step.id): \(failure); putting the previous settings back")
        do throws(ProxmoxError) { try await client(context).restore(step.change.plan) } catch {
            return .failed(attempt: "putting the previous settings back", reason: error.description)
        }
        return .restored("the previous settings are back")
    }

    /// The reboot a verified change waits for, when asked (the records are written by `finish`).
    public func record(_ step: Step<Change>, applied waiting: [String], in context: StepContext) async throws(ResourceFailure) {
        guard reboot && !waiting.isEmpty else { return }
        do throws(ProxmoxError) { try await client(context).reboot(step.change.plan.guest, timeout: 300) } catch {
            throw .refused(system: "Proxmox API", call: error.call, message: "the reboot failed: \(error.description)")
        }
    }

    /// The records of every guest left as configured, what waits for a reboot, and one more bulk read:
    /// what the cluster shows of the changed guests now is what the next run compares with.
    public func finish(
        _ observation: Observation, results: [ResourceResult], applied: [String: [String]], in context: KindContext
    ) async throws(ResourceFailure) -> [String] {
        guard let store = context.store, let run = context.run else { return [] }
        let client = self.client.counting(into: CallCounter(into: context.stats, as: .proxmoxCalls))
        let outcome = Dictionary(uniqueKeysWithValues: results.map { ($0.id, $0) })
        var lines: [String] = []
        var converged: [GuestRecord] = []
        var forgotten = observation.forgotten
        var changed: [(id: Int, pending: [String])] = []
        for (guest, plan, _) in observation.read {
            let id = GuestSettingsKind.id(guest.id)
            if plan.changes.isEmpty {
                converged.append(
                    GuestRecord(
                        vmid: guest.id, fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: plan.guest.observed, run: run,
                        pending: observation.records[guest.id]?.pending ?? []))
            } else if let waiting = applied[id], outcome[id]?.failure == nil {
                let pending = Array(Set(waiting + (observation.records[guest.id]?.pending ?? []))).sorted()
                let rebooted = reboot && !waiting.isEmpty
                changed.append((guest.id, rebooted || plan.guest.status != "running" ? [] : pending))
            } else if outcome[id]?.failure != nil {
                forgotten.append(guest.id)
            }
        }
        // Settings an earlier run left waiting for a reboot, on guests this run did not change.
        let touched = Set(observation.read.filter { !$0.plan.changes.isEmpty }.map(\.guest.id))
        do throws(ProxmoxError) {
            for guest in wanted where !touched.contains(guest.id) {
                guard let record = observation.records[guest.id], !record.pending.isEmpty, let actual = observation.cluster[guest.id] else { continue }
                let kept = converged.first { $0.vmid == guest.id }
                let (fingerprint, observed) = kept.map { ($0.fingerprint, $0.observed) } ?? (record.fingerprint, record.observed)
                converged.removeAll { $0.vmid == guest.id }
                func keep(_ pending: [String]) {
                    converged.append(GuestRecord(vmid: guest.id, fingerprint: fingerprint, observed: observed, run: run, pending: pending))
                }
                if actual.status != "running" {
                    keep([])  // a stopped guest takes them at its next start
                } else if reboot {
                    let still = try await client.pendingSettings(actual, among: record.pending)
                    if !still.isEmpty {
                        try await client.reboot(actual, timeout: 300)
                        lines.append("\(guest.id) \(guest.name): rebooted for \(still.joined(separator: ", ")) (set by run \(record.run))")
                        changed.append((guest.id, []))
                    } else {
                        keep([])
                    }
                } else {
                    keep(record.pending)  // said by the plan's notes
                }
            }
            if !changed.isEmpty {
                let after = try await client.guestsByID()
                for (id, pending) in changed {
                    guard let guest = estate.guest(id), let now = after[id] else { continue }
                    converged.append(
                        GuestRecord(vmid: id, fingerprint: ProxmoxGuestConfig.fingerprint(for: guest), observed: now.observed, run: run, pending: pending))
                }
            }
        } catch {
            throw Self.failure(error)
        }
        do {
            try await store.recordGuests(converged)
            try await store.forgetGuests(forgotten)
        } catch {
            throw .cannotCheck(reason: "the state store: \(error)")
        }
        return lines
    }

    /// The client, counting this step's calls into its stats.
    func client(_ context: StepContext) -> any ProxmoxAPI { client.counting(into: CallCounter(into: context.stats, as: .proxmoxCalls)) }

    static func failure(_ error: ProxmoxError) -> ResourceFailure { .refused(system: "Proxmox API", call: error.call, message: error.description) }

    // MARK: The report

    /// The execution as the guests' printers show it: a line per guest read, the changes, how each went.
    public func report(_ execution: KindExecution<GuestSettings>, synced: Bool) -> GuestSettings.Report? {
        guard let observation = execution.observation else { return nil }
        var report = Report(read: observation.read.count, notRead: observation.notRead)
        report.lines = observation.absent
        let results = Dictionary(uniqueKeysWithValues: execution.results.map { ($0.id, $0) })
        for (guest, plan, reason) in observation.read {
            let id = guest.id
            if plan.changes.isEmpty {
                report.lines.append("\(id) \(guest.name): as configured")
                continue
            }
            report.lines.append("\(id) \(guest.name): read because \(reason)")
            for change in plan.changes { report.lines.append("\(id) \(guest.name): \(change.key): \(change.from ?? "(unset)") → \(change.to)") }
            var change = GuestChange(id: id, name: guest.name, readBecause: reason, changes: plan.changes)
            if synced, let result = results[GuestSettingsKind.id(id)], result.outcome != .planned {
                change.calls = result.calls
                change.seconds = result.seconds
                if let error = result.failure {
                    change.failure = error.description
                    report.lines.append("\(id) \(guest.name): failed: \(error)")
                } else if let waiting = execution.applied[GuestSettingsKind.id(id)] {
                    change.waitingForReboot = waiting
                    let pending = Array(Set(waiting + (observation.records[id]?.pending ?? []))).sorted()
                    if reboot && !waiting.isEmpty {
                        report.lines.append("\(id) \(guest.name): rebooted for \(pending.joined(separator: ", "))")
                    } else if !waiting.isEmpty {
                        report.lines.append("\(id) \(guest.name): \(waiting.joined(separator: ", ")) take effect at the next reboot (--reboot to reboot now)")
                    }
                }
            }
            report.changed.append(change)
        }
        report.lines += execution.plan?.notes ?? []
        return report
    }
}
