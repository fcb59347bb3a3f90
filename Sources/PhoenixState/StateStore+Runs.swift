import Foundation
import GRDB
import PhoenixCore

extension StateStore {
    /// Takes the sync lock and opens a run. A lock whose holder is a dead process on this host is
    /// stale: it is cleared and the run it belonged to is marked interrupted.
    public func beginRun(command: String, user: String, host: String, pid: Int32) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try write { db in
            let interrupted = try Self.takeLock(db, host: host)
            let now = Date().timeIntervalSince1970
            try db.execute(
                sql: "INSERT INTO runs (started_at, user, host, pid, command, outcome) VALUES (?, ?, ?, ?, ?, 'running')",
                arguments: [now, user, host, pid, command])
            let run = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO lock (id, pid, host, started_at, run_id) VALUES (1, ?, ?, ?, ?)", arguments: [pid, host, now, run])
            return (run, interrupted)
        }
    }

    public func queueRun(command: String, user: String, host: String, pid: Int32, trigger: RunTrigger) throws(StateError) -> Int64 {
        try write { db in
            try db.execute(
                sql: "INSERT INTO runs (started_at, user, host, pid, command, outcome, trigger) VALUES (?, ?, ?, ?, ?, 'queued', ?)",
                arguments: [Date().timeIntervalSince1970, user, host, pid, command, Self.encode(trigger)])
            return db.lastInsertedRowID
        }
    }

    public func beginRun(queued run: Int64, pid: Int32) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try write { db in
            // Only a run still waiting starts: one superseded or cancelled meanwhile stays as it ended.
            guard let row = try Row.fetchOne(db, sql: "SELECT host, outcome FROM runs WHERE id = ?", arguments: [run]),
                row["outcome"] as String == "queued"
            else { throw StateError.unknownRun(run) }
            let host: String = row["host"]
            let interrupted = try Self.takeLock(db, host: host)
            let now = Date().timeIntervalSince1970
            try db.execute(sql: "UPDATE runs SET started_at = ?, pid = ?, outcome = 'running' WHERE id = ?", arguments: [now, pid, run])
            try db.execute(sql: "INSERT INTO lock (id, pid, host, started_at, run_id) VALUES (1, ?, ?, ?, ?)", arguments: [pid, host, now, run])
            return (run, interrupted)
        }
    }

    /// Clears a stale lock (or throws `locked` naming a live holder) and marks the runs that were
    /// going without a live lock as interrupted; returns those not reported before.
    private static func takeLock(_ db: Database, host: String) throws -> [RunRecord] {
        if let holder = try Row.fetchOne(
            db, sql: "SELECT l.pid, l.host, l.started_at, l.run_id, r.user, r.command FROM lock l LEFT JOIN runs r ON r.id = l.run_id WHERE l.id = 1")
        {
            let holderPID = Int32(holder["pid"] as Int64)
            let holderHost: String = holder["host"]
            let alive = holderHost != host || (kill(holderPID, 0) == 0 || errno == EPERM)
            if alive {
                throw StateError.locked(
                    LockHolder(
                        user: holder["user"] ?? "", host: holderHost, pid: holderPID, run: holder["run_id"], command: holder["command"] ?? "",
                        since: Date(timeIntervalSince1970: holder["started_at"])))
            }
            try db.execute(sql: "DELETE FROM lock WHERE id = 1")
        }
        // Runs still "running" without a live lock were interrupted (a crash, a kill, a power cut).
        try db.execute(sql: "UPDATE runs SET outcome = 'interrupted', finished_at = COALESCE(finished_at, started_at) WHERE outcome = 'running'")
        let interrupted = try runs(db, sql: "SELECT * FROM runs WHERE outcome = 'interrupted' AND summary = ''")
        try db.execute(sql: "UPDATE runs SET summary = 'interrupted before it finished' WHERE outcome = 'interrupted' AND summary = ''")
        return interrupted
    }

    /// Closes a run and releases the lock.
    public func finishRun(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) throws(StateError) {
        let stageList = stages.isEmpty ? nil : stages.sorted().map(\.rawValue).joined(separator: ",")
        try write { db in
            try db.execute(
                sql: "UPDATE runs SET finished_at = ?, outcome = ?, summary = ?, stages = ? WHERE id = ?",
                arguments: [Date().timeIntervalSince1970, outcome.rawValue, summary, stageList, run])
            try db.execute(sql: "DELETE FROM lock WHERE id = 1 AND run_id = ?", arguments: [run])
        }
    }

    public func annotateRun(_ run: Int64, commit: String?, previousCommit: String?, details: String?) throws(StateError) {
        try write { db in
            try db.execute(
                sql: """
                    UPDATE runs SET commit_sha = COALESCE(?, commit_sha), previous_commit = COALESCE(?, previous_commit),
                    details = COALESCE(?, details) WHERE id = ?
                    """,
                arguments: [commit, previousCommit, details, run])
        }
    }

    public func runDetails(_ run: Int64) throws(StateError) -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT details FROM runs WHERE id = ?", arguments: [run]) }
    }

    public func lastAppliedCommit() throws(StateError) -> RunRecord? {
        try read { db in
            try Self.runs(
                db, sql: "SELECT * FROM runs WHERE commit_sha IS NOT NULL AND outcome IN ('succeeded', 'no changes') ORDER BY id DESC LIMIT 1"
            ).first
        }
    }

    public func runs(limit: Int, before: Int64?) throws(StateError) -> [RunRecord] {
        try read { db in
            try Self.runs(db, sql: "SELECT * FROM runs WHERE id < \(before ?? Int64.max) ORDER BY id DESC LIMIT \(max(1, limit))")
        }
    }

    public func run(_ id: Int64) throws(StateError) -> RunRecord? {
        try read { db in try Self.runs(db, sql: "SELECT * FROM runs WHERE id = \(id)").first }
    }

    static func runs(_ db: Database, sql: String) throws -> [RunRecord] {
        try Row.fetchAll(db, sql: sql).map { row in
            RunRecord(
                id: row["id"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
                finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)), user: row["user"], host: row["host"],
                pid: Int32(row["pid"] as Int64), command: row["command"], outcome: row["outcome"], summary: row["summary"],
                trigger: (row["trigger"] as String?).flatMap(decode), commit: row["commit_sha"], previousCommit: row["previous_commit"],
                stages: ((row["stages"] as String?) ?? "").split(separator: ",").map { SyncStage(named: String($0)) })
        }
    }

    static func encode(_ trigger: RunTrigger) -> String {
        (try? JSONEncoder().encode(trigger)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decode(_ text: String) -> RunTrigger? { try? JSONDecoder().decode(RunTrigger.self, from: Data(text.utf8)) }

    // MARK: The journal

    /// Records a phase of a resource's change: `intent` before the mutation, then `applied`,
    /// `verified`, `restored` or `failed`.
    public func journal(
        run: Int64, resource: String, kind: String, phase: JournalPhase, previousDigest: String?, newDigest: String?, detail: String
    )
        throws(StateError)
    {
        try write { db in
            try db.execute(
                sql: "INSERT INTO journal (run_id, resource, kind, phase, at, previous_digest, new_digest, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [run, resource, kind, phase.rawValue, Date().timeIntervalSince1970, previousDigest, newDigest, detail])
        }
    }

    /// One step's journal lines in one transaction.
    public func journal(run: Int64, _ entries: [JournalWrite]) throws(StateError) {
        guard !entries.isEmpty else { return }
        let now = Date().timeIntervalSince1970
        try write { db in
            for entry in entries {
                try db.execute(
                    sql: "INSERT INTO journal (run_id, resource, kind, phase, at, previous_digest, new_digest, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [run, entry.resource, entry.kind, entry.phase.rawValue, now, entry.previousDigest, entry.newDigest, entry.detail])
            }
        }
    }

    public func journal(run: Int64) throws(StateError) -> [JournalEntry] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT run_id, resource, kind, phase, detail FROM journal WHERE run_id = ? ORDER BY id", arguments: [run]).map {
                JournalEntry(
                    runID: $0["run_id"], resource: $0["resource"], kind: $0["kind"] ?? "", phase: JournalPhase(rawValue: $0["phase"]) ?? .failed,
                    detail: $0["detail"])
            }
        }
    }

    /// Resources an interrupted run announced a change to and never closed: their service may not
    /// have been reloaded or verified, so the next run activates them again.
    public func verifiedDigests(prefix: String) throws(StateError) -> [String: String] {
        try read { db in
            let rows = try Row.fetchAll(
                db, sql: "SELECT resource, new_digest FROM journal WHERE phase = ? AND new_digest IS NOT NULL AND substr(resource, 1, ?) = ? ORDER BY id",
                arguments: [JournalPhase.verified.rawValue, prefix.count, prefix])
            var digests: [String: String] = [:]
            for row in rows { digests[row["resource"]] = row["new_digest"] }
            return digests
        }
    }

    public func unfinishedResources(in runs: [Int64]) throws(StateError) -> Set<String> {
        guard !runs.isEmpty else { return [] }
        return try read { db in
            let list = runs.map(String.init).joined(separator: ",")
            let rows = try Row.fetchAll(db, sql: "SELECT resource, phase FROM journal WHERE run_id IN (\(list)) ORDER BY id")
            var open = Set<String>()
            for row in rows {
                let resource: String = row["resource"]
                guard let phase = JournalPhase(rawValue: row["phase"]) else { continue }
                if phase == .intent { open.insert(resource) } else if phase.isFinal { open.remove(resource) }
            }
            return open
        }
    }
}

extension StateStore: LockInspecting {
    /// The lock row, when its holder is alive (or on another host, where phoenix cannot tell).
    public func lockStatus() throws(StateError) -> LockStatus {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT l.pid, l.host, l.started_at, l.run_id, r.user, r.command FROM lock l LEFT JOIN runs r ON r.id = l.run_id WHERE l.id = 1")
            else { return LockStatus(holder: nil) }
            let pid = Int32(row["pid"] as Int64)
            let host: String = row["host"]
            let alive = host != ProcessInfo.processInfo.hostName || kill(pid, 0) == 0 || errno == EPERM
            return LockStatus(
                holder: alive
                    ? LockHolder(
                        user: row["user"] ?? "", host: host, pid: pid, run: row["run_id"], command: row["command"] ?? "",
                        since: Date(timeIntervalSince1970: row["started_at"])) : nil)
        }
    }

    /// A SQLite store's lock is its holder process's: phoenix clears it once that process is gone.
    public func breakLock(by user: String, host: String) throws(StateError) -> LockStatus {
        let status = try lockStatus()
        guard let holder = status.holder else { return status }
        throw StateError.unavailable(
            path: path,
            reason: "a SQLite store's lock ends with its process: stop pid \(holder.pid) on \(holder.host) (the next run then reports its run interrupted)"
        )
    }
}
