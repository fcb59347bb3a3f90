import Foundation

/// How a run ended, as `phoenix history` shows it (a run still going is `running`, one the agent
/// has accepted and not started `queued`; one found without its process, `interrupted`: the store
/// writes those itself).
public enum RunOutcome: String, Sendable, CaseIterable {
    case succeeded, failed
    case noChanges = "no changes"
    /// Changes failed and every one of them was undone (what else failed was only blocked or never
    /// started): each resource is as before or as configured, nothing half-changed.
    case rolledBack = "rolled back"
    /// Its plan holds changes to stages a person approves; nothing was applied.
    case waitingForApproval = "waiting for approval"
    /// Its plan waited for approval and a person discarded it: nothing was applied.
    case discarded
    /// Abandoned for a newer commit before it applied anything.
    case superseded
    /// Stopped before it finished (the agent was asked to stop); the journal resumes it.
    case interrupted
}

/// Why a run ran: what `phoenix history`, the agent's API and the dashboard show first.
public struct RunTrigger: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// The agent's poll found a new commit.
        case poll
        /// A git server's webhook (`provider`, `delivery`).
        case webhook
        /// The agent's drift check repairing stages it may heal by itself.
        case drift
        /// A person approved a run that waited (`actor`).
        case approval
        /// `POST /api/v1/sync` (`actor`: the token's name).
        case api
        /// A person at the command line.
        case cli
        /// The agent's own timers: the hourly certificate check.
        case schedule
    }

    public var kind: Kind
    public var provider: String?
    public var delivery: String?
    public var actor: String?
    /// An approval: the run that waited for it.
    public var approves: Int64?

    public init(_ kind: Kind, provider: String? = nil, delivery: String? = nil, actor: String? = nil, approves: Int64? = nil) {
        self.kind = kind
        self.provider = provider
        self.delivery = delivery
        self.actor = actor
        self.approves = approves
    }
}

/// One run as `phoenix history` shows it.
public struct RunRecord: Sendable, Equatable {
    public let id: Int64
    public let startedAt: Date
    public let finishedAt: Date?
    public let user: String
    public let host: String
    public let pid: Int32
    public let command: String
    public let outcome: String
    public let summary: String
    /// Why it ran; nil for runs a person started at the command line.
    public var trigger: RunTrigger?
    /// The commit of the estate's repository it converged to, and the one applied before it (runs
    /// of the agent).
    public var commit: String?
    public var previousCommit: String?
    /// The stages in which it changed, would change (a plan waiting for approval) or failed
    /// something, in the stages' order; empty for a run that found everything as configured.
    public var stages: [SyncStage] = []

    public init(
        id: Int64, startedAt: Date, finishedAt: Date?, user: String, host: String, pid: Int32, command: String, outcome: String, summary: String,
        trigger: RunTrigger? = nil, commit: String? = nil, previousCommit: String? = nil, stages: [SyncStage] = []
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
        self.stages = stages
    }

    /// The same run, ended now (or at `finishedAt`) with `outcome`.
    public func ended(_ outcome: String, summary: String, at finishedAt: Date? = Date()) -> RunRecord {
        RunRecord(
            id: id, startedAt: startedAt, finishedAt: finishedAt, user: user, host: host, pid: pid, command: command, outcome: outcome, summary: summary,
            trigger: trigger, commit: commit, previousCommit: previousCommit, stages: stages)
    }
}

/// A journal line to write: a phase of one resource's change, with fingerprints of before and
/// after, and the kind that made it.
public struct JournalWrite: Sendable, Equatable {
    public var resource: String
    public var kind: String
    public var phase: JournalPhase
    public var previousDigest: String?
    public var newDigest: String?
    public var detail: String

    public init(resource: String, kind: String, phase: JournalPhase, previousDigest: String? = nil, newDigest: String? = nil, detail: String = "") {
        self.resource = resource
        self.kind = kind
        self.phase = phase
        self.previousDigest = previousDigest
        self.newDigest = newDigest
        self.detail = detail
    }
}

/// A journal line: a resource and a phase of its change.
public struct JournalEntry: Sendable, Equatable {
    public let runID: Int64
    public let resource: String
    /// The kind that journalled it (empty in journals older than the kinds' names).
    public let kind: String
    public let phase: JournalPhase
    public let detail: String

    public init(runID: Int64, resource: String, kind: String = "", phase: JournalPhase, detail: String) {
        self.runID = runID
        self.resource = resource
        self.kind = kind
        self.phase = phase
        self.detail = detail
    }
}

/// What phoenix recorded about a guest it converged: the fingerprint of what the configuration
/// asked for, and what the bulk read showed of the guest right after.
public struct GuestRecord: Sendable, Equatable {
    public let vmid: Int
    public let fingerprint: String
    public let observed: String
    public let run: Int64
    /// Settings converge set that the running guest takes only at its next reboot.
    public let pending: [String]

    public init(vmid: Int, fingerprint: String, observed: String, run: Int64, pending: [String] = []) {
        self.vmid = vmid
        self.fingerprint = fingerprint
        self.observed = observed
        self.run = run
        self.pending = pending
    }
}

/// What a kind recorded of one of its resources: its own words (often JSON), and the run.
public struct KindRecord: Sendable, Equatable {
    public let resource: String
    public let value: String
    public let run: Int64

    public init(resource: String, value: String, run: Int64) {
        self.resource = resource
        self.value = value
        self.run = run
    }
}

/// Who holds the sync lock: the user, host and process of the run, what it runs and since when,
/// and (on PostgreSQL, where the holder proves it is alive) its last heartbeat.
public struct LockHolder: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var host: String
    public var pid: Int32
    public var run: Int64?
    public var command: String
    public var since: Date
    public var heartbeat: Date?

    public init(user: String, host: String, pid: Int32, run: Int64?, command: String, since: Date, heartbeat: Date? = nil) {
        self.user = user
        self.host = host
        self.pid = pid
        self.run = run
        self.command = command
        self.since = since
        self.heartbeat = heartbeat
    }

    /// "run 12 (sync all) of ops on node1, pid 4242, since 2026-12-06T10:00:00Z".
    public var description: String {
        let command = command.isEmpty ? "" : " (\(command))"
        return "\(run.map { "run \($0)\(command)" } ?? "a run\(command)") of \(user.isEmpty ? "an unknown user" : user) on \(host), pid \(pid), "
            + "since \(ISO8601DateFormatter().string(from: since))"
    }
}

/// What can go wrong with the state store, with what to do about it.
public enum StateError: Error, CustomStringConvertible, Equatable {
    case unavailable(path: String, reason: String)
    /// Another run holds the sync lock (`phoenix history` names it: a person's sync, or the agent's
    /// run and its trigger).
    case locked(LockHolder)
    /// This run no longer holds the sync lock: its session ended (`state unlock --force`, the
    /// database restarted or unreachable). It stops; the next run resumes it.
    case lockLost(run: Int64, reason: String)
    case unknownRun(Int64)
    case runNotRestorable(Int64, outcome: String)
    /// Neither this run nor any before it recorded the installed files (`converge` changes guests):
    /// there is no file state to return to.
    case runChangedNoFiles(Int64, command: String)

    public var description: String {
        switch self {
        case let .unavailable(path, reason):
            return "the state store \(path) cannot be used: \(reason) (check the path and its permissions, or pass --state)"
        case let .locked(holder):
            return "another sync holds the lock: \(holder); wait for it to finish (or pass --lock-timeout)"
        case let .lockLost(run, reason):
            return "run \(run) lost the sync lock: \(reason); it stopped, and the next run resumes it"
        case let .unknownRun(id):
            return "there is no run \(id) (phoenix history lists the runs)"
        case let .runNotRestorable(id, outcome):
            return "run \(id) ended \(outcome); only a successful run recorded a state to return to"
        case let .runChangedNoFiles(id, command):
            return "no run up to \(id) (\(command)) recorded the installed files: there is no state of them to return to (phoenix history lists the runs)"
        }
    }
}

/// What phoenix last deployed of a stack and saw converge: the compose file in the form it was
/// deployed (versioned secret names, the spec label; a rollback deploys it again), its spec hash,
/// and what each service looked like right after (the fields plan and drift compare: never an
/// environment value).
public struct StackRecord: Sendable, Equatable {
    /// `stack:production/qdrant_service`.
    public let id: String
    /// `production_qdrant_service`.
    public let namespace: String
    public let specHash: String
    public let compose: String
    /// Service name (without the namespace) → its observed summary (JSON text).
    public let services: [String: String]
    public let run: Int64

    public init(id: String, namespace: String, specHash: String, compose: String, services: [String: String], run: Int64) {
        self.id = id
        self.namespace = namespace
        self.specHash = specHash
        self.compose = compose
        self.services = services
        self.run = run
    }
}

/// The sync lock as `phoenix state lock` shows it: who holds it (nil: free), and the last time
/// someone broke it (`state unlock --force`).
public struct LockStatus: Sendable, Equatable {
    public var holder: LockHolder?
    public var lastBreak: LockBreak?

    public init(holder: LockHolder?, lastBreak: LockBreak? = nil) {
        self.holder = holder
        self.lastBreak = lastBreak
    }
}

/// Who broke the lock (`user@host`), when, and the run that held it.
public struct LockBreak: Sendable, Equatable {
    public var by: String
    public var at: Date
    public var run: Int64?

    public init(by: String, at: Date, run: Int64?) {
        self.by = by
        self.at = at
        self.run = run
    }
}

/// A store whose lock another process can show and break (`phoenix state lock`, `state unlock --force`).
public protocol LockInspecting: StateBackend {
    func lockStatus() async throws(StateError) -> LockStatus
    /// Ends the holder's session and records who did (`by`, on `host`); the status it broke (its
    /// holder nil when the lock was free and nothing was done).
    func breakLock(by user: String, host: String) async throws(StateError) -> LockStatus
}

/// An agent as the store records the active one: where it runs and answers, and since when.
public struct AgentIdentity: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var pid: Int32
    /// Where its API and dashboard answer (`http://node1:8080`), as it was told to listen.
    public var address: String
    public var since: Date?
    public var heartbeat: Date?

    public init(host: String, pid: Int32, address: String, since: Date? = nil, heartbeat: Date? = nil) {
        self.host = host
        self.pid = pid
        self.address = address
        self.since = since
        self.heartbeat = heartbeat
    }

    /// "node1 (pid 4242, http://node1:8080)".
    public var description: String { "\(host) (pid \(pid), \(address))" }
}

/// A store that elects one active agent among several pointed at it (PostgreSQL: a session
/// advisory lock on a connection of its own, released when that session ends).
public protocol AgentLeasing: Sendable {
    /// Tries once to become the active agent; true when this process is (or already was). Once
    /// held, the lease is kept alive every `heartbeat`, and `lost` is told if it ever goes.
    func claimActive(_ agent: AgentIdentity, heartbeat: Duration, lost: @escaping @Sendable (String) -> Void) async throws(StateError) -> Bool
    /// The active agent, when one holds the lease.
    func activeAgent() async throws(StateError) -> AgentIdentity?
}
