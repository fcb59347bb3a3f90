/// Everything a state store holds, row for row, in one backend-neutral value: what `phoenix state
/// migrate` copies from one store to another (SQLite and PostgreSQL either way) and compares on
/// both sides afterwards. Rows are sorted by their keys and times are whole microseconds since
/// 1970 (PostgreSQL's resolution), so two stores holding the same history give equal dumps.
/// The lock and PostgreSQL's record of broken locks are not part of it: they are a store's own.
public struct StateDump: Sendable, Equatable {
    public struct Run: Sendable, Equatable {
        public var id: Int64
        public var startedAt: Int64
        public var finishedAt: Int64?
        public var user: String
        public var host: String
        public var pid: Int64
        public var command: String
        public var outcome: String
        public var summary: String
        public var trigger: String?
        public var commit: String?
        public var previousCommit: String?
        public var details: String?
        public var stages: String?
        public var filesSnapshot: Bool

        public init(
            id: Int64, startedAt: Int64, finishedAt: Int64?, user: String, host: String, pid: Int64, command: String, outcome: String, summary: String,
            trigger: String?, commit: String?, previousCommit: String?, details: String?, stages: String?, filesSnapshot: Bool
        ) {
            self.id = id
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.user = user
            self.host = host
            self.pid = pid
            self.command = command
            self.outcome = outcome
            self.summary = summary
            self.trigger = trigger
            self.commit = commit
            self.previousCommit = previousCommit
            self.details = details
            self.stages = stages
            self.filesSnapshot = filesSnapshot
        }
    }

    public struct Entry: Sendable, Equatable {
        public var id: Int64
        public var run: Int64
        public var resource: String
        public var kind: String
        public var phase: String
        public var at: Int64
        public var previousDigest: String?
        public var newDigest: String?
        public var detail: String

        public init(
            id: Int64, run: Int64, resource: String, kind: String, phase: String, at: Int64, previousDigest: String?, newDigest: String?, detail: String
        ) {
            self.id = id
            self.run = run
            self.resource = resource
            self.kind = kind
            self.phase = phase
            self.at = at
            self.previousDigest = previousDigest
            self.newDigest = newDigest
            self.detail = detail
        }
    }

    /// A file as phoenix installed it: in `applied` (the run that installed it) or in a run's
    /// snapshot (`runResources`: the run whose files these are).
    public struct File: Sendable, Equatable {
        public var run: Int64
        public var resource: String
        public var unit: String
        public var path: String
        public var mode: String
        public var digest: String

        public init(run: Int64, resource: String, unit: String, path: String, mode: String, digest: String) {
            self.run = run
            self.resource = resource
            self.unit = unit
            self.path = path
            self.mode = mode
            self.digest = digest
        }
    }

    public struct Blob: Sendable, Equatable {
        public var digest: String
        public var content: String

        public init(digest: String, content: String) {
            self.digest = digest
            self.content = content
        }
    }

    public struct Guest: Sendable, Equatable {
        public var vmid: Int64
        public var fingerprint: String
        public var observed: String
        public var run: Int64
        public var pending: String

        public init(vmid: Int64, fingerprint: String, observed: String, run: Int64, pending: String) {
            self.vmid = vmid
            self.fingerprint = fingerprint
            self.observed = observed
            self.run = run
            self.pending = pending
        }
    }

    public struct Stack: Sendable, Equatable {
        public var id: String
        public var namespace: String
        public var specHash: String
        public var compose: String
        public var services: String
        public var run: Int64

        public init(id: String, namespace: String, specHash: String, compose: String, services: String, run: Int64) {
            self.id = id
            self.namespace = namespace
            self.specHash = specHash
            self.compose = compose
            self.services = services
            self.run = run
        }
    }

    public struct KindValue: Sendable, Equatable {
        public var kind: String
        public var resource: String
        public var run: Int64
        public var value: String?

        public init(kind: String, resource: String, run: Int64, value: String?) {
            self.kind = kind
            self.resource = resource
            self.run = run
            self.value = value
        }
    }

    /// The keyed-hash key: every copy of a store must hash secrets alike.
    public var key: [UInt8]
    public var runs: [Run] = []
    public var journal: [Entry] = []
    public var blobs: [Blob] = []
    public var applied: [File] = []
    public var runResources: [File] = []
    public var guests: [Guest] = []
    public var stacks: [Stack] = []
    public var kindRecords: [KindValue] = []

    public init(key: [UInt8]) { self.key = key }

    /// Sorted by each table's key, as two dumps of the same history compare equal.
    public func sorted() -> StateDump {
        var copy = self
        copy.runs.sort { $0.id < $1.id }
        copy.journal.sort { $0.id < $1.id }
        copy.blobs.sort { $0.digest < $1.digest }
        copy.applied.sort { $0.resource < $1.resource }
        copy.runResources.sort { ($0.run, $0.resource) < ($1.run, $1.resource) }
        copy.guests.sort { $0.vmid < $1.vmid }
        copy.stacks.sort { $0.id < $1.id }
        copy.kindRecords.sort { ($0.kind, $0.resource, $0.run) < ($1.kind, $1.resource, $1.run) }
        return copy
    }

    /// "12 runs, 340 journal entries, …": what a copy holds, for people.
    public var counts: String {
        [
            (runs.count, "runs"), (journal.count, "journal entries"), (blobs.count, "contents"), (applied.count, "applied records"),
            (runResources.count, "snapshot records"), (guests.count, "guest records"), (stacks.count, "stack records"), (kindRecords.count, "kind records"),
        ].map { "\($0.0) \($0.1)" }.joined(separator: ", ")
    }

    /// Why `target` may not take this dump: a run it holds that this dump holds otherwise, or not
    /// at all (nil: it holds none of those, so the copy may replace what it has).
    public func conflict(with target: StateDump) -> String? {
        let mine = Dictionary(uniqueKeysWithValues: runs.map { ($0.id, $0) })
        for run in target.runs {
            guard let own = mine[run.id] else { return "it holds run \(run.id) (\(run.command)), which the source does not" }
            if own != run { return "its run \(run.id) (\(run.command)) is not the source's run \(run.id) (\(own.command))" }
        }
        return nil
    }
}

/// A store that can give and take everything it holds (`phoenix state migrate`).
public protocol StateDumping: StateBackend {
    func dump() async throws(StateError) -> StateDump
    /// Replaces everything this store holds (not its lock) with `dump`, in one transaction.
    func load(_ dump: StateDump) async throws(StateError)
}
