import Foundation
import PhoenixCore
import Synchronization

/// A state store in memory: the test double of the state port, held to the same contract as the
/// SQLite store (StateContractTests). Its lock and runs live only as long as the value.
public final class InMemoryStateStore: StateBackend, Sendable {
    public let digests: ContentDigests
    private let state = Mutex(Contents())

    /// Everything the store holds, behind its one lock.
    private struct Contents {
        var runList: [RunRecord] = []
        var details: [Int64: String] = [:]
        var holder: (pid: Int32, host: String, startedAt: Date, run: Int64)?
        var entries: [(run: Int64, entry: JournalEntry)] = []
        var verified: [String: String] = [:]
        var appliedRecords: [String: AppliedRecord] = [:]
        var blobs: [String: String] = [:]
        var runResources: [Int64: [AppliedRecord]] = [:]
        var guests: [Int: GuestRecord] = [:]
        var stacks: [String: StackRecord] = [:]
        /// Every kind record ever written, oldest first: (kind, resource, value or nil for a removal, run).
        var kindHistory: [(kind: String, resource: String, value: String?, run: Int64)] = []
    }

    public init() {
        var generator = SystemRandomNumberGenerator()
        digests = ContentDigests(key: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    private func locked<T: Sendable>(_ body: (inout Contents) throws(StateError) -> T) throws(StateError) -> T {
        try state.withLock { (contents: inout Contents) throws(StateError) -> T in try body(&contents) }
    }

    private func locked<T: Sendable>(_ body: (inout Contents) -> T) -> T {
        state.withLock { body(&$0) }
    }

    public func beginRun(command: String, user: String, host: String, pid: Int32) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try locked { (data: inout Contents) throws(StateError) in
            let interrupted = try Self.takeLock(&data, host: host)
            let now = Date()
            let id = (data.runList.last?.id ?? 0) + 1
            data.runList.append(
                RunRecord(id: id, startedAt: now, finishedAt: nil, user: user, host: host, pid: pid, command: command, outcome: "running", summary: ""))
            data.holder = (pid, host, now, id)
            return (id, interrupted)
        }
    }

    public func queueRun(command: String, user: String, host: String, pid: Int32, trigger: RunTrigger) throws(StateError) -> Int64 {
        locked { data in
            let id = (data.runList.last?.id ?? 0) + 1
            data.runList.append(
                RunRecord(
                    id: id, startedAt: Date(), finishedAt: nil, user: user, host: host, pid: pid, command: command, outcome: "queued", summary: "",
                    trigger: trigger))
            return id
        }
    }

    public func beginRun(queued run: Int64, pid: Int32) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try locked { (data: inout Contents) throws(StateError) in
            guard let index = data.runList.firstIndex(where: { $0.id == run }), data.runList[index].outcome == "queued" else {
                throw StateError.unknownRun(run)
            }
            let queued = data.runList[index]
            let interrupted = try Self.takeLock(&data, host: queued.host)
            let now = Date()
            data.runList[index] = RunRecord(
                id: run, startedAt: now, finishedAt: nil, user: queued.user, host: queued.host, pid: pid, command: queued.command, outcome: "running",
                summary: "", trigger: queued.trigger, commit: queued.commit, previousCommit: queued.previousCommit)
            data.holder = (pid, queued.host, now, run)
            return (run, interrupted)
        }
    }

    /// Clears a stale lock (or throws `locked` naming a live holder) and marks the runs that were
    /// going without a live lock as interrupted; returns those not reported before.
    private static func takeLock(_ data: inout Contents, host: String) throws(StateError) -> [RunRecord] {
        if let holder = data.holder {
            let alive = holder.host != host || kill(holder.pid, 0) == 0 || errno == EPERM
            if alive {
                let record = data.runList.first { $0.id == holder.run }
                throw StateError.locked(
                    LockHolder(
                        user: record?.user ?? "", host: holder.host, pid: holder.pid, run: holder.run, command: record?.command ?? "", since: holder.startedAt))
            }
            data.holder = nil
        }
        var interrupted: [RunRecord] = []
        for (index, run) in data.runList.enumerated() where run.outcome == "running" || (run.outcome == "interrupted" && run.summary.isEmpty) {
            let marked = run.ended("interrupted", summary: "", at: run.finishedAt ?? run.startedAt)
            interrupted.append(marked)
            data.runList[index] = marked.ended("interrupted", summary: "interrupted before it finished", at: marked.finishedAt)
        }
        return interrupted
    }

    public func finishRun(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) throws(StateError) {
        locked { data in
            if let index = data.runList.firstIndex(where: { $0.id == run }) {
                data.runList[index] = data.runList[index].ended(outcome.rawValue, summary: summary)
                data.runList[index].stages = stages.sorted()
            }
            if data.holder?.run == run { data.holder = nil }
        }
    }

    public func annotateRun(_ run: Int64, commit: String?, previousCommit: String?, details: String?) throws(StateError) {
        locked { data in
            guard let index = data.runList.firstIndex(where: { $0.id == run }) else { return }
            if let commit { data.runList[index].commit = commit }
            if let previousCommit { data.runList[index].previousCommit = previousCommit }
            if let details { data.details[run] = details }
        }
    }

    public func runDetails(_ run: Int64) throws(StateError) -> String? { locked { $0.details[run] } }

    public func lastAppliedCommit() throws(StateError) -> RunRecord? {
        locked { data in
            data.runList.last { $0.commit != nil && [RunOutcome.succeeded.rawValue, RunOutcome.noChanges.rawValue].contains($0.outcome) }
        }
    }

    public func runs(limit: Int, before: Int64?) throws(StateError) -> [RunRecord] {
        locked { data in Array(data.runList.reversed().filter { $0.id < before ?? Int64.max }.prefix(max(1, limit))) }
    }

    public func run(_ id: Int64) throws(StateError) -> RunRecord? { locked { $0.runList.first { $0.id == id } } }

    public func journal(
        run: Int64, resource: String, kind: String, phase: JournalPhase, previousDigest: String?, newDigest: String?, detail: String
    ) throws(StateError) {
        locked { data in
            data.entries.append((run, JournalEntry(runID: run, resource: resource, kind: kind, phase: phase, detail: detail)))
            if phase == .verified, let newDigest { data.verified[resource] = newDigest }
        }
    }

    public func verifiedDigests(prefix: String) throws(StateError) -> [String: String] { locked { $0.verified.filter { $0.key.hasPrefix(prefix) } } }

    public func journal(run: Int64) throws(StateError) -> [JournalEntry] { locked { $0.entries.filter { $0.run == run }.map(\.entry) } }

    public func unfinishedResources(in runs: [Int64]) throws(StateError) -> Set<String> {
        locked { data in
            var open = Set<String>()
            for (_, entry) in data.entries where runs.contains(entry.runID) {
                if entry.phase == .intent { open.insert(entry.resource) } else if entry.phase.isFinal { open.remove(entry.resource) }
            }
            return open
        }
    }

    public func applied() throws(StateError) -> [String: AppliedRecord] { locked { $0.appliedRecords } }

    public func recordApplied(run: Int64, _ resource: Resource) throws(StateError) {
        let digest = digests.digest(resource.contents, sensitive: resource.sensitive)
        locked { data in
            if !resource.sensitive { data.blobs[digest] = resource.contents }
            data.appliedRecords[resource.id] = AppliedRecord(id: resource.id, unit: resource.unit, path: resource.path, mode: resource.mode, digest: digest)
        }
    }

    public func recordDeleted(id: String) throws(StateError) { locked { $0.appliedRecords[id] = nil } }

    public func snapshot(run: Int64) throws(StateError) { locked { $0.runResources[run] = Array($0.appliedRecords.values) } }

    public func snapshot(of run: Int64) throws(StateError) -> (resources: [Resource], withoutContents: [AppliedRecord]) {
        try locked { (data: inout Contents) throws(StateError) in
            guard let record = data.runList.first(where: { $0.id == run }) else { throw StateError.unknownRun(run) }
            guard [RunOutcome.succeeded, .noChanges].map(\.rawValue).contains(record.outcome) else {
                throw StateError.runNotRestorable(run, outcome: record.outcome)
            }
            // The files of the newest run up to this one that recorded them.
            guard let source = data.runResources.keys.filter({ $0 <= run }).max() else {
                // No files then and none now: nothing to put back; files managed now that no run up
                // to this one recorded would all be removed: refused.
                if !data.appliedRecords.isEmpty { throw StateError.runChangedNoFiles(run, command: record.command) }
                return ([], [])
            }
            let kept = data.runResources[source] ?? []
            let blobs = data.blobs
            let resources = kept.compactMap { applied in
                blobs[applied.digest].map {
                    Resource(
                        id: applied.id, unit: applied.unit, path: applied.path, contents: $0, mode: applied.mode,
                        activation: Resource.activation(of: applied.id),
                        origin: "the state run \(source) left")
                }
            }
            return (resources.sorted { $0.id < $1.id }, kept.filter { blobs[$0.digest] == nil }.sorted { $0.id < $1.id })
        }
    }

    public func content(digest: String) throws(StateError) -> String? { locked { $0.blobs[digest] } }

    public func guestRecords() throws(StateError) -> [Int: GuestRecord] { locked { $0.guests } }

    public func recordGuests(_ records: [GuestRecord]) throws(StateError) { locked { data in for record in records { data.guests[record.vmid] = record } } }

    public func forgetGuests(_ vmids: [Int]) throws(StateError) { locked { data in for vmid in vmids { data.guests[vmid] = nil } } }

    public func stackRecords() throws(StateError) -> [String: StackRecord] { locked { $0.stacks } }

    public func recordStack(_ record: StackRecord) throws(StateError) { locked { $0.stacks[record.id] = record } }

    public func forgetStack(_ id: String) throws(StateError) { locked { $0.stacks[id] = nil } }

    public func kindRecords(_ kind: String, asOf run: Int64?) throws(StateError) -> [String: KindRecord] {
        locked { data in
            var newest: [String: (value: String?, run: Int64)] = [:]
            for entry in data.kindHistory where entry.kind == kind && entry.run <= (run ?? .max) {
                if let previous = newest[entry.resource], previous.run > entry.run { continue }
                newest[entry.resource] = (entry.value, entry.run)
            }
            var records: [String: KindRecord] = [:]
            for (resource, entry) in newest { if let value = entry.value { records[resource] = KindRecord(resource: resource, value: value, run: entry.run) } }
            return records
        }
    }

    public func recordKind(_ kind: String, resource: String, value: String?, run: Int64) throws(StateError) {
        locked { data in
            data.kindHistory.removeAll { $0.kind == kind && $0.resource == resource && $0.run == run }
            data.kindHistory.append((kind, resource, value, run))
        }
    }

    /// Ends the lock holder as a crash would (the process is gone): the next run finds its run
    /// interrupted. For in-process tests of a crash.
    public func abandonHolder() {
        locked { data in
            data.holder = (
                pid: Int32.max, host: data.holder?.host ?? ProcessInfo.processInfo.hostName, startedAt: data.holder?.startedAt ?? Date(),
                run: data.holder?.run ?? 0
            )
        }
    }
}
