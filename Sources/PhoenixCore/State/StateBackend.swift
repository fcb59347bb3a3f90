/// The state store as the engine and the services use it: runs and the lock that keeps them one at
/// a time, the journal, what phoenix last applied (with the contents a rollback needs), and what it
/// left on each guest. SQLite (PhoenixState) is the first backend; every backend passes the same
/// contract tests (Tests/PhoenixEngineTests/StateContractTests.swift).
///
/// Every call is `async`: a store across the network (PostgreSQL) suspends while it waits instead of
/// holding a thread. A store on this machine may answer synchronously (SQLite and the in-memory
/// store do). A caller on an actor must expect other work on that actor between its calls: the
/// run queue keeps one recording of a new run at a time (tested over `SuspendingStateStore`).
public protocol StateBackend: Sendable {
    /// How this store fingerprints contents: resources that may hold secrets as keyed hashes.
    var digests: ContentDigests { get }
    /// The round trips this store has made so far, for `--stats`: SQLite's transactions (each a
    /// read or a write of its file), PostgreSQL's statements. A store in memory makes none.
    var roundTrips: Int { get }

    // MARK: Runs and the lock

    /// Takes the sync lock and opens a run. A lock whose holder is a dead process on this host is
    /// stale: it is cleared and its run reported as interrupted. A live holder: `StateError.locked`.
    func beginRun(command: String, user: String, host: String, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord])
    /// Throws `lockLost` when this store held the lock for `run` and no longer does (its session
    /// ended): the executor asks before each change, so a run whose lock was broken changes nothing
    /// more. Answered without a round trip; a store whose lock cannot be lost answers nothing.
    func confirmLock(run: Int64) throws(StateError)
    /// Closes a run and releases the lock; `stages`: those it changed, would change or failed
    /// something in (`RunRecord.stages`).
    func finishRun(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) async throws(StateError)
    /// The newest runs first; with `before`, only runs older than that one (the next page).
    func runs(limit: Int, before: Int64?) async throws(StateError) -> [RunRecord]
    func run(_ id: Int64) async throws(StateError) -> RunRecord?

    // MARK: The agent's runs

    /// Records a run the agent has accepted and not started (`queued`): a webhook's answer names it
    /// before any git work. It holds no lock.
    func queueRun(command: String, user: String, host: String, pid: Int32, trigger: RunTrigger) async throws(StateError) -> Int64
    /// Starts a queued run under the sync lock, as `beginRun(command:…)` starts a new one.
    func beginRun(queued run: Int64, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord])
    /// What an agent's run is about: its commit, the one applied before it, and its details (a JSON
    /// document: the plan, each resource's outcome, the diagnostics of an invalid commit). A nil
    /// argument leaves that field as it is.
    func annotateRun(_ run: Int64, commit: String?, previousCommit: String?, details: String?) async throws(StateError)
    /// The details `annotateRun` recorded.
    func runDetails(_ run: Int64) async throws(StateError) -> String?
    /// The newest run that converged the estate to a commit (succeeded, or found nothing to change).
    func lastAppliedCommit() async throws(StateError) -> RunRecord?

    // MARK: The journal

    /// Records a phase of a resource's change, with fingerprints of before and after, and the kind
    /// that made it (two kinds may name one resource alike: the firewall's files and its rule sets
    /// through the API).
    func journal(
        run: Int64, resource: String, kind: String, phase: JournalPhase, previousDigest: String?, newDigest: String?, detail: String
    ) async throws(StateError)
    /// Records the same phase of several resources' change (one step's), in this order: one round
    /// trip where the store can batch.
    func journal(run: Int64, _ entries: [JournalWrite]) async throws(StateError)
    /// A run's journal, in the order it was written.
    func journal(run: Int64) async throws(StateError) -> [JournalEntry]
    /// Resources these runs announced a change to (`intent`) and never closed.
    func unfinishedResources(in runs: [Int64]) async throws(StateError) -> Set<String>
    /// The newest `verified` digest of every resource whose id starts with `prefix` (what phoenix
    /// last installed and saw in place: a certificate's fingerprint).
    func verifiedDigests(prefix: String) async throws(StateError) -> [String: String]

    // MARK: What phoenix applied

    /// What phoenix last applied, by resource id.
    func applied() async throws(StateError) -> [String: AppliedRecord]
    /// Records `resource` as installed; its contents are kept for rollback unless it is sensitive
    /// (then only a keyed hash).
    func recordApplied(run: Int64, _ resource: Resource) async throws(StateError)
    /// Records several resources as installed at once (a unit's files, a first run's adoption of
    /// what is already in place): one round trip where the store can batch.
    func recordApplied(run: Int64, _ resources: [Resource]) async throws(StateError)
    /// Forgets a resource phoenix deleted.
    func recordDeleted(id: String) async throws(StateError)
    /// Keeps the whole applied state as the one `run` leaves behind.
    func snapshot(run: Int64) async throws(StateError)
    /// The resources a successful sync or rollback run left, with their contents; `withoutContents`
    /// are those kept only as keyed hashes (a rollback can check that what is installed is still
    /// what the run left, never put it back).
    func snapshot(of run: Int64) async throws(StateError) -> (resources: [Resource], withoutContents: [AppliedRecord])
    /// The contents phoenix installed for a digest, when it kept them.
    func content(digest: String) async throws(StateError) -> String?

    // MARK: Guests

    /// What converge left on each guest, by VMID.
    func guestRecords() async throws(StateError) -> [Int: GuestRecord]
    func recordGuests(_ records: [GuestRecord]) async throws(StateError)
    func forgetGuests(_ vmids: [Int]) async throws(StateError)

    // MARK: Stacks

    /// What phoenix last deployed of each stack and saw converge, by resource id.
    func stackRecords() async throws(StateError) -> [String: StackRecord]
    func recordStack(_ record: StackRecord) async throws(StateError)
    /// Forgets a stack phoenix removed (`--prune`).
    func forgetStack(_ id: String) async throws(StateError)

    // MARK: Any kind's records

    /// What a kind recorded of each of its resources, newest first per resource, as it stood after
    /// run `asOf` (nil: now). Resources whose newest record is a removal are left out. A kind keeps
    /// here what its next plan compares with and what a rollback puts back: never a secret.
    func kindRecords(_ kind: String, asOf run: Int64?) async throws(StateError) -> [String: KindRecord]
    /// Records `value` for a resource of `kind` in `run` (nil: phoenix removed it). Earlier values
    /// stay, for rollback.
    func recordKind(_ kind: String, resource: String, value: String?, run: Int64) async throws(StateError)
}

extension StateBackend {
    public var roundTrips: Int { 0 }

    public func confirmLock(run: Int64) throws(StateError) {}

    public func journal(run: Int64, _ entries: [JournalWrite]) async throws(StateError) {
        for entry in entries {
            try await journal(
                run: run, resource: entry.resource, kind: entry.kind, phase: entry.phase, previousDigest: entry.previousDigest, newDigest: entry.newDigest,
                detail: entry.detail)
        }
    }

    public func recordApplied(run: Int64, _ resources: [Resource]) async throws(StateError) {
        for resource in resources { try await recordApplied(run: run, resource) }
    }

    public func runs() async throws(StateError) -> [RunRecord] { try await runs(limit: 50, before: nil) }

    public func runs(limit: Int) async throws(StateError) -> [RunRecord] { try await runs(limit: limit, before: nil) }

    /// What a kind recorded of each of its resources, now.
    public func kindRecords(_ kind: String) async throws(StateError) -> [String: KindRecord] { try await kindRecords(kind, asOf: nil) }

    public func journal(
        run: Int64, resource: String, kind: String = "", phase: JournalPhase, previousDigest: String? = nil, newDigest: String? = nil
    ) async throws(StateError) {
        try await journal(run: run, resource: resource, kind: kind, phase: phase, previousDigest: previousDigest, newDigest: newDigest, detail: "")
    }

    public func journal(run: Int64, resource: String, kind: String = "", phase: JournalPhase, detail: String) async throws(StateError) {
        try await journal(run: run, resource: resource, kind: kind, phase: phase, previousDigest: nil, newDigest: nil, detail: detail)
    }
}

extension StateBackend {
    /// Closes a run that touched no stage (it ended before it planned, was discarded, or
    /// interrupted before it started) and releases the lock.
    public func finishRun(_ run: Int64, outcome: RunOutcome, summary: String) async throws(StateError) {
        try await finishRun(run, outcome: outcome, summary: summary, stages: [])
    }
}
