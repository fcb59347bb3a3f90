import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixProxmox
import PhoenixState

/// `plan` and `sync` of every kind phoenix manages, in one run: the guests' settings (through the
/// API) first, then the files of the host-side stages (the engine), then the firewall's rule sets
/// when they go through the API. A resource whose dependency failed is blocked; the others go on.
public struct SyncService: Sendable {
    public let estate: Estate
    public let stages: [SyncStage]
    /// The guests stage, when the Proxmox API is named (nil: planned as not applied).
    public var guests: GuestSettings?
    /// The firewall's rule sets through the API (`--firewall-through api`), or nil for its files.
    public var firewallRules: FirewallRules?
    /// `--target`: only these guests' own resources.
    public var scope: GuestScope?

    public init(estate: Estate, stages: [SyncStage]) {
        self.estate = estate
        self.stages = stages
    }

    /// The engine's part: plans (run nil) or converges the file stages in the given run, with the
    /// resources that failed before it (guests), for the files that need them.
    public typealias FileStages =
        @Sendable (_ stages: [SyncStage], _ run: (id: Int64, interrupted: [RunRecord])?, _ upstream: [String: String]) async throws ->
        FileResult

    public enum FileResult: Sendable {
        case none
        case planned(Plan)
        case synced(SyncOutcome)
    }

    /// What a plan or a sync found and did, kind by kind.
    public struct Outcome: Sendable {
        public var run: Int64?
        public var interrupted: [RunRecord] = []
        public var guests: GuestSettings.Report?
        /// Why the guests stage could not run at all (the API failed), when it could not.
        public var guestsError: String?
        public var files: FileResult = .none
        public var firewall: FirewallRules.Plan?
        public var firewallError: String?
        public var notApplied: [(stage: SyncStage, reason: String)] = []

        public var succeeded: Bool {
            let filesFine: Bool
            if case let .synced(outcome) = files { filesFine = outcome.succeeded } else { filesFine = true }
            return guestsError == nil && firewallError == nil && (guests?.failures.isEmpty ?? true) && (firewall?.failures.isEmpty ?? true) && filesFine
        }

        /// Whether anything differs from the configuration (a plan) or was changed (a sync).
        public var hasChanges: Bool {
            let fileChanges: Bool
            switch files {
            case .none: fileChanges = false
            case let .planned(plan): fileChanges = plan.hasChanges
            case let .synced(outcome): fileChanges = outcome.plan.hasChanges
            }
            return fileChanges || !(guests?.changed.isEmpty ?? true) || (firewall?.hasChanges ?? false)
        }
    }

    /// The stages the engine converges (the guests stage and the API firewall are not files).
    var fileStages: [SyncStage] {
        stages.filter { $0 != .guests && !($0 == .firewall && firewallRules != nil) }
    }

    var wantedGuests: [Guest] {
        estate.guests.filter { $0.enabled && (scope?.guests.contains($0.id) ?? true) }
    }

    /// Why the guests stage is not applied, when it is asked for without the API.
    var notApplied: [(stage: SyncStage, reason: String)] {
        guard stages.contains(.guests), guests == nil else { return [] }
        return [(.guests, "needs the Proxmox API: name it with --api https://host:8006 (or $PHOENIX_API) and a token file")]
    }

    /// What sync would do. Writes nothing: not the cluster, not the machines, not the state store.
    public func plan(store: (any StateBackend)?, files: FileStages) async throws -> Outcome {
        var outcome = Outcome(notApplied: notApplied)
        if let guests {
            let records: [Int: GuestRecord]
            do { records = try store?.guestRecords() ?? [:] } catch { throw error }
            do throws(ProxmoxError) {
                outcome.guests = try await guests.converge(wantedGuests, records: records, store: nil, run: nil)
            } catch {
                outcome.guestsError = error.description
            }
        }
        outcome.files = fileStages.isEmpty ? .none : try await files(fileStages, nil, [:])
        if let firewallRules {
            do throws(ProxmoxError) { outcome.firewall = try await firewallRules.plan() } catch { outcome.firewallError = error.description }
        }
        return outcome
    }

    /// Converges every stage in one run under the sync lock; the run is finished here.
    ///
    /// The kinds run side by side as the resource graph allows: the guests' settings, the firewall
    /// rules' plan and the file stages that need no guest at once; then, once the guests are done,
    /// the file stages in (or of) guests and the firewall's rule sets. A resource whose guest
    /// failed is blocked; the others go on.
    public func sync(store: any StateBackend, command: String, files: FileStages) async throws -> Outcome {
        let (run, interrupted) = try store.beginRun(command: command)
        var outcome = Outcome(run: run, interrupted: interrupted, notApplied: notApplied)
        do {
            let unfinished = try store.unfinishedResources(in: interrupted.map(\.id))
            let records = guests == nil ? [:] : try store.guestRecords()
            let later = guests == nil ? [] : fileStages.filter(FileKind.stagesAfterGuests.contains)
            let now = fileStages.filter { !later.contains($0) }
            let needed = Self.guestsNeeded(by: later, estate: estate)
            let wanted = wantedGuests
            let (guests, firewallRules) = (self.guests, self.firewallRules)
            let settled = GuestWaiter()
            /// The guests' failures among `ids`, as the resources that failed (once they are done).
            let failures = { @Sendable (ids: Set<Int>) async -> [String: String] in
                guard guests != nil else { return [:] }
                var failed: [String: String] = [:]
                for (id, reason) in await settled.wait(for: ids) { failed[GuestSettingsKind.id(id)] = reason }
                return failed
            }
            // Guests this run does not converge (disabled, outside --target) hold nothing up.
            for id in needed where !wanted.contains(where: { $0.id == id }) { await settled.settle(id, failure: nil) }
            async let guestsDone: Result<GuestSettings.Report, ProxmoxError>? = {
                guard let guests else { return nil }
                do throws(ProxmoxError) {
                    return .success(try await guests.converge(wanted, records: records, store: store, run: run, unfinished: unfinished, settled: settled))
                } catch {
                    return .failure(error)
                }
            }()
            async let filesNow: FileResult = now.isEmpty ? .none : try await files(now, (run, interrupted), [:])
            // The files in guests as soon as the guests they live in are done, not all guests.
            async let filesLater: FileResult = later.isEmpty ? .none : try await files(later, (run, interrupted), await failures(needed))
            async let firewallDone: Result<FirewallRules.Plan, ProxmoxError>? = {
                guard let firewallRules else { return nil }
                let plan: FirewallRules.Plan
                do throws(ProxmoxError) { plan = try await firewallRules.plan() } catch { return .failure(error) }
                // A guest's rule set waits for its settings, as in the resource graph; the cluster's does not.
                return .success(
                    await firewallRules.apply(plan, store: store, run: run) { scope in
                        guard let guest = FirewallRulesKind.guest(of: scope), let reason = await failures([guest]).values.first else { return nil }
                        return "not attempted: guest:\(guest) did not converge (\(reason))"
                    })
            }()
            let guestsResult = await guestsDone
            // Whatever the guests stage did not get to is settled as failed: nothing waits forever.
            await settled.failAll("the guests stage ended before it")
            switch guestsResult {
            case nil: break
            case let .success(report)?:
                try store.recordGuests(report.converged)
                try store.forgetGuests(report.forgotten)
                outcome.guests = report
            case let .failure(error)?:
                outcome.guestsError = error.description
            }
            outcome.files = Self.merge(try await filesNow, try await filesLater)
            switch await firewallDone {
            case nil: break
            case let .success(plan)?: outcome.firewall = plan
            case let .failure(error)?: outcome.firewallError = error.description
            }
            try store.finishRun(run, outcome: outcome.runOutcome, summary: outcome.summary)
            return outcome
        } catch {
            try? store.finishRun(run, outcome: .failed, summary: "\(error)")
            throw error
        }
    }

    /// The guests whose settings the files of `stages` need first (from the resource graph).
    static func guestsNeeded(by stages: [SyncStage], estate: Estate) -> Set<Int> {
        guard !stages.isEmpty else { return [] }
        let files = DesiredState(estate: estate, stages: stages, nodeName: "phoenix").resources
        let graph = ResourceGraph(context: ResourceGraphContext(estate: estate, stages: Set(stages).union([.guests]), files: files))
        return Set(graph.nodes.flatMap(\.dependsOn).compactMap { id in id.hasPrefix("guest:") ? Int(id.dropFirst("guest:".count)) : nil })
    }

    /// The engine's passes of one run, as one result.
    static func merge(_ first: FileResult, _ second: FileResult) -> FileResult {
        switch (first, second) {
        case (.none, let other), (let other, .none): return other
        case let (.synced(a), .synced(b)): return .synced(SyncOutcome(merging: [a, b]))
        case let (.planned(a), .planned(b)): return .planned(Plan(merging: [a, b]))
        default: return first
        }
    }
}

extension SyncService.Outcome {
    var runOutcome: RunOutcome { !succeeded ? .failed : hasChanges ? .succeeded : .noChanges }

    var summary: String {
        var parts: [String] = []
        if let guests, !guests.changed.isEmpty {
            parts.append("guests: \(guests.changed.count - guests.failures.count) changed, \(guests.failures.count) failed")
        }
        if let guestsError { parts.append("guests: \(guestsError)") }
        if case let .synced(files) = files, files.plan.hasChanges { parts.append(files.summary) }
        if let firewall, firewall.hasChanges {
            let changed = firewall.scopes.filter { !$0.plan.isEmpty }.count
            parts.append("firewall through the API: \(changed - firewall.failures.count) scopes converged, \(firewall.failures.count) failed")
        }
        if let firewallError { parts.append("firewall through the API: \(firewallError)") }
        return parts.isEmpty ? "no changes" : parts.joined(separator: "; ")
    }
}
