import PhoenixCore

/// A state store whose every call suspends before it reaches `base`, as a store across the
/// network does (PostgreSQL): the callers' actors are open to other work meanwhile, so what must
/// not interleave is tested against it. It counts the calls.
public final class SuspendingStateStore: StateBackend {
    public let base: any StateBackend
    private let counter = CallCounter()

    public init(_ base: any StateBackend) { self.base = base }

    /// The calls made so far.
    public var calls: Int { counter.total }

    private func pause() async {
        counter.count()
        await Task.yield()
    }

    public var digests: ContentDigests { base.digests }

    public func beginRun(command: String, user: String, host: String, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        await pause()
        return try await base.beginRun(command: command, user: user, host: host, pid: pid)
    }
    public func finishRun(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) async throws(StateError) {
        await pause()
        try await base.finishRun(run, outcome: outcome, summary: summary, stages: stages)
    }
    public func runs(limit: Int, before: Int64?) async throws(StateError) -> [RunRecord] {
        await pause()
        return try await base.runs(limit: limit, before: before)
    }
    public func run(_ id: Int64) async throws(StateError) -> RunRecord? {
        await pause()
        return try await base.run(id)
    }
    public func queueRun(command: String, user: String, host: String, pid: Int32, trigger: RunTrigger) async throws(StateError) -> Int64 {
        await pause()
        return try await base.queueRun(command: command, user: user, host: host, pid: pid, trigger: trigger)
    }
    public func beginRun(queued run: Int64, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        await pause()
        return try await base.beginRun(queued: run, pid: pid)
    }
    public func annotateRun(_ run: Int64, commit: String?, previousCommit: String?, details: String?) async throws(StateError) {
        await pause()
        try await base.annotateRun(run, commit: commit, previousCommit: previousCommit, details: details)
    }
    public func runDetails(_ run: Int64) async throws(StateError) -> String? {
        await pause()
        return try await base.runDetails(run)
    }
    public func lastAppliedCommit() async throws(StateError) -> RunRecord? {
        await pause()
        return try await base.lastAppliedCommit()
    }
    public func journal(
        run: Int64, resource: String, kind: String, phase: JournalPhase, previousDigest: String?, newDigest: String?, detail: String
    ) async throws(StateError) {
        await pause()
        try await base.journal(
            run: run, resource: resource, kind: kind, phase: phase, previousDigest: previousDigest, newDigest: newDigest, detail: detail)
    }
    public func journal(run: Int64) async throws(StateError) -> [JournalEntry] {
        await pause()
        return try await base.journal(run: run)
    }
    public func unfinishedResources(in runs: [Int64]) async throws(StateError) -> Set<String> {
        await pause()
        return try await base.unfinishedResources(in: runs)
    }
    public func verifiedDigests(prefix: String) async throws(StateError) -> [String: String] {
        await pause()
        return try await base.verifiedDigests(prefix: prefix)
    }
    public func applied() async throws(StateError) -> [String: AppliedRecord] {
        await pause()
        return try await base.applied()
    }
    public func recordApplied(run: Int64, _ resource: Resource) async throws(StateError) {
        await pause()
        try await base.recordApplied(run: run, resource)
    }
    public func recordDeleted(id: String) async throws(StateError) {
        await pause()
        try await base.recordDeleted(id: id)
    }
    public func snapshot(run: Int64) async throws(StateError) {
        await pause()
        try await base.snapshot(run: run)
    }
    public func snapshot(of run: Int64) async throws(StateError) -> (resources: [Resource], withoutContents: [AppliedRecord]) {
        await pause()
        return try await base.snapshot(of: run)
    }
    public func content(digest: String) async throws(StateError) -> String? {
        await pause()
        return try await base.content(digest: digest)
    }
    public func guestRecords() async throws(StateError) -> [Int: GuestRecord] {
        await pause()
        return try await base.guestRecords()
    }
    public func recordGuests(_ records: [GuestRecord]) async throws(StateError) {
        await pause()
        try await base.recordGuests(records)
    }
    public func forgetGuests(_ vmids: [Int]) async throws(StateError) {
        await pause()
        try await base.forgetGuests(vmids)
    }
    public func stackRecords() async throws(StateError) -> [String: StackRecord] {
        await pause()
        return try await base.stackRecords()
    }
    public func recordStack(_ record: StackRecord) async throws(StateError) {
        await pause()
        try await base.recordStack(record)
    }
    public func forgetStack(_ id: String) async throws(StateError) {
        await pause()
        try await base.forgetStack(id)
    }
    public func kindRecords(_ kind: String, asOf run: Int64?) async throws(StateError) -> [String: KindRecord] {
        await pause()
        return try await base.kindRecords(kind, asOf: run)
    }
    public func recordKind(_ kind: String, resource: String, value: String?, run: Int64) async throws(StateError) {
        await pause()
        try await base.recordKind(kind, resource: resource, value: value, run: run)
    }
}
