import Foundation
import GRDB
import PhoenixCore

extension StateStore: StateDumping {
    public func dump() throws(StateError) -> StateDump {
        // The key as the file holds it now (a load may have replaced it since this store opened).
        guard let key = try? Self.key(at: path + ".key", create: false) else {
            throw StateError.unavailable(path: path, reason: "its key file \(path).key is missing")
        }
        return try read { db in
            var dump = StateDump(key: key)
            dump.runs = try Row.fetchAll(db, sql: "SELECT * FROM runs").map { row in
                StateDump.Run(
                    id: row["id"], startedAt: Self.micros(row["started_at"]), finishedAt: (row["finished_at"] as Double?).map(Self.micros),
                    user: row["user"], host: row["host"], pid: row["pid"], command: row["command"], outcome: row["outcome"], summary: row["summary"],
                    trigger: row["trigger"], commit: row["commit_sha"], previousCommit: row["previous_commit"], details: row["details"], stages: row["stages"],
                    filesSnapshot: row["files_snapshot"])
            }
            dump.journal = try Row.fetchAll(db, sql: "SELECT * FROM journal").map { row in
                StateDump.Entry(
                    id: row["id"], run: row["run_id"], resource: row["resource"], kind: row["kind"] ?? "", phase: row["phase"], at: Self.micros(row["at"]),
                    previousDigest: row["previous_digest"], newDigest: row["new_digest"], detail: row["detail"])
            }
            dump.blobs = try Row.fetchAll(db, sql: "SELECT digest, content FROM blobs").map { row in
                StateDump.Blob(digest: row["digest"], content: String(decoding: row["content"] as Data, as: UTF8.self))
            }
            let file = { (row: Row) in
                StateDump.File(run: row["run_id"], resource: row["resource"], unit: row["unit"], path: row["path"], mode: row["mode"], digest: row["digest"])
            }
            dump.applied = try Row.fetchAll(db, sql: "SELECT * FROM applied").map(file)
            dump.runResources = try Row.fetchAll(db, sql: "SELECT * FROM run_resources").map(file)
            dump.guests = try Row.fetchAll(db, sql: "SELECT * FROM guests").map { row in
                StateDump.Guest(vmid: row["vmid"], fingerprint: row["fingerprint"], observed: row["observed"], run: row["run_id"], pending: row["pending"])
            }
            dump.stacks = try Row.fetchAll(db, sql: "SELECT * FROM stacks").map { row in
                StateDump.Stack(
                    id: row["id"], namespace: row["namespace"], specHash: row["spec_hash"], compose: row["compose"], services: row["services"],
                    run: row["run_id"])
            }
            dump.kindRecords = try Row.fetchAll(db, sql: "SELECT * FROM kind_records").map { row in
                StateDump.KindValue(kind: row["kind"], resource: row["resource"], run: row["run_id"], value: row["value"])
            }
            return dump.sorted()
        }
    }

    public func load(_ dump: StateDump) throws(StateError) {
        try write { db in
            for table in ["runs", "journal", "blobs", "applied", "run_resources", "guests", "stacks", "kind_records"] {
                try db.execute(sql: "DELETE FROM \(table)")
            }
            for run in dump.runs {
                try db.execute(
                    sql: """
                        INSERT INTO runs (id, started_at, finished_at, user, host, pid, command, outcome, summary, trigger, commit_sha, previous_commit,
                        details, stages, files_snapshot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        run.id, Self.seconds(run.startedAt), run.finishedAt.map(Self.seconds), run.user, run.host, run.pid, run.command, run.outcome,
                        run.summary, run.trigger, run.commit, run.previousCommit, run.details, run.stages, run.filesSnapshot,
                    ])
            }
            for entry in dump.journal {
                try db.execute(
                    sql:
                        "INSERT INTO journal (id, run_id, resource, kind, phase, at, previous_digest, new_digest, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [
                        entry.id, entry.run, entry.resource, entry.kind, entry.phase, Self.seconds(entry.at), entry.previousDigest, entry.newDigest,
                        entry.detail,
                    ])
            }
            for blob in dump.blobs {
                try db.execute(sql: "INSERT INTO blobs (digest, content) VALUES (?, ?)", arguments: [blob.digest, Data(blob.content.utf8)])
            }
            for (table, files) in [("applied", dump.applied), ("run_resources", dump.runResources)] {
                for file in files {
                    try db.execute(
                        sql: "INSERT INTO \(table) (run_id, resource, unit, path, mode, digest) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [file.run, file.resource, file.unit, file.path, file.mode, file.digest])
                }
            }
            for guest in dump.guests {
                try db.execute(
                    sql: "INSERT INTO guests (vmid, fingerprint, observed, run_id, pending) VALUES (?, ?, ?, ?, ?)",
                    arguments: [guest.vmid, guest.fingerprint, guest.observed, guest.run, guest.pending])
            }
            for stack in dump.stacks {
                try db.execute(
                    sql: "INSERT INTO stacks (id, namespace, spec_hash, compose, services, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [stack.id, stack.namespace, stack.specHash, stack.compose, stack.services, stack.run])
            }
            for record in dump.kindRecords {
                try db.execute(
                    sql: "INSERT INTO kind_records (kind, resource, run_id, value) VALUES (?, ?, ?, ?)",
                    arguments: [record.kind, record.resource, record.run, record.value])
            }
            // The key goes last, once the rows are in: written beside the file, then renamed over it.
            try Self.replaceKey(at: path + ".key", with: dump.key)
        }
    }

    static func micros(_ seconds: Double) -> Int64 { Int64((seconds * 1_000_000).rounded()) }

    static func seconds(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }

    static func replaceKey(at path: String, with key: [UInt8]) throws {
        let staged = path + ".new"
        unlink(staged)
        let descriptor = open(staged, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StateError.unavailable(path: path, reason: String(cString: strerror(errno))) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        try handle.write(contentsOf: Data(key))
        try handle.synchronize()
        guard rename(staged, path) == 0 else { throw StateError.unavailable(path: path, reason: String(cString: strerror(errno))) }
    }
}
