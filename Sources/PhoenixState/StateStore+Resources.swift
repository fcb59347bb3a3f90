import Foundation
import GRDB
import PhoenixCore

extension StateStore {
    /// What phoenix last applied, by resource id.
    public func applied() throws(StateError) -> [String: AppliedRecord] {
        try read { db in
            var records: [String: AppliedRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT resource, unit, path, mode, digest FROM applied") {
                guard let unit = ServiceUnit(key: row["unit"]) else { continue }
                let record = AppliedRecord(id: row["resource"], unit: unit, path: row["path"], mode: row["mode"], digest: row["digest"])
                records[record.id] = record
            }
            return records
        }
    }

    /// Records that `resource` is installed with `contents` (kept by digest, for rollback).
    /// A sensitive resource is kept only as a keyed hash, never its contents.
    public func recordApplied(run: Int64, _ resource: Resource) throws(StateError) {
        try recordApplied(run: run, [resource])
    }

    /// Records resources as installed in one transaction.
    public func recordApplied(run: Int64, _ resources: [Resource]) throws(StateError) {
        guard !resources.isEmpty else { return }
        try write { db in
            for resource in resources {
                let digest = digests.digest(resource.contents, sensitive: resource.sensitive)
                if !resource.sensitive {
                    try db.execute(sql: "INSERT OR IGNORE INTO blobs (digest, content) VALUES (?, ?)", arguments: [digest, Data(resource.contents.utf8)])
                }
                try db.execute(
                    sql: "INSERT OR REPLACE INTO applied (resource, unit, path, mode, digest, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                    arguments: [resource.id, resource.unit.key, resource.path, resource.mode, digest, run])
            }
        }
    }

    /// Forgets a resource phoenix deleted.
    public func recordDeleted(id: String) throws(StateError) {
        try write { db in try db.execute(sql: "DELETE FROM applied WHERE resource = ?", arguments: [id]) }
    }

    /// Keeps the whole applied state as the one `run` leaves behind, for `phoenix rollback RUN`.
    public func snapshot(run: Int64) throws(StateError) {
        try write { db in
            try db.execute(sql: "DELETE FROM run_resources WHERE run_id = ?", arguments: [run])
            try db.execute(
                sql: "INSERT INTO run_resources (run_id, resource, unit, path, mode, digest) SELECT ?, resource, unit, path, mode, digest FROM applied",
                arguments: [run])
            try db.execute(sql: "UPDATE runs SET files_snapshot = 1 WHERE id = ?", arguments: [run])
        }
    }

    /// The resources a successful run left behind, with their contents; `withoutContents` are those
    /// recorded only as keyed hashes (a rollback cannot put them back). A run that did not record
    /// the files (`converge`, a sync of other stages) left those of the newest run before it that did.
    public func snapshot(of run: Int64) throws(StateError) -> (resources: [Resource], withoutContents: [AppliedRecord]) {
        guard let record = try self.run(run) else { throw StateError.unknownRun(run) }
        guard [RunOutcome.succeeded, .noChanges].map(\.rawValue).contains(record.outcome) else {
            throw StateError.runNotRestorable(run, outcome: record.outcome)
        }
        let (recorded, managed): (Int64?, Bool) = try read { db in
            (
                try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM runs WHERE id <= ? AND files_snapshot = 1", arguments: [run]),
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM applied)") ?? false
            )
        }
        guard let source = recorded else {
            // No files then and none now: nothing to put back. Files phoenix manages now that no run
            // up to this one recorded would read as "no files" and all be removed: refused.
            if managed { throw StateError.runChangedNoFiles(run, command: record.command) }
            return ([], [])
        }
        return try read { db in
            let withoutContents: [AppliedRecord] = try Row.fetchAll(
                db,
                sql:
                    "SELECT resource, unit, path, mode, digest FROM run_resources WHERE run_id = ? AND digest NOT IN (SELECT digest FROM blobs) ORDER BY resource",
                arguments: [source]
            ).compactMap { row in
                guard let unit = ServiceUnit(key: row["unit"]) else { return nil }
                return AppliedRecord(id: row["resource"], unit: unit, path: row["path"], mode: row["mode"], digest: row["digest"])
            }
            let resources: [Resource] = try Row.fetchAll(
                db,
                sql: "SELECT r.resource, r.unit, r.path, r.mode, b.content FROM run_resources r JOIN blobs b ON b.digest = r.digest WHERE r.run_id = ?",
                arguments: [source]
            ).compactMap { row in
                guard let unit = ServiceUnit(key: row["unit"]) else { return nil }
                let content: Data = row["content"]
                let id: String = row["resource"]
                return Resource(
                    id: id, unit: unit, path: row["path"], contents: String(decoding: content, as: UTF8.self), mode: row["mode"],
                    activation: Resource.activation(of: id), origin: "the state run \(run) left")
            }
            return (resources, withoutContents)
        }
    }

    /// The content phoenix installed for a digest, when it kept it.
    public func content(digest: String) throws(StateError) -> String? {
        try read { db in
            (try Data.fetchOne(db, sql: "SELECT content FROM blobs WHERE digest = ?", arguments: [digest])).map { String(decoding: $0, as: UTF8.self) }
        }
    }
}

extension StateStore {
    /// The guests `converge` left as configured, by VMID.
    public func guestRecords() throws(StateError) -> [Int: GuestRecord] {
        try read { db in
            var records: [Int: GuestRecord] = [:]
            // A store written before guests were recorded has no table yet (read-only: not migrated).
            guard try db.tableExists("guests") else { return records }
            for row in try Row.fetchAll(db, sql: "SELECT vmid, fingerprint, observed, run_id, pending FROM guests") {
                let pending = (row["pending"] as String).split(separator: ";").map(String.init)
                let record = GuestRecord(vmid: row["vmid"], fingerprint: row["fingerprint"], observed: row["observed"], run: row["run_id"], pending: pending)
                records[record.vmid] = record
            }
            return records
        }
    }

    public func recordGuests(_ records: [GuestRecord]) throws(StateError) {
        guard !records.isEmpty else { return }
        try write { db in
            for record in records {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO guests (vmid, fingerprint, observed, run_id, pending) VALUES (?, ?, ?, ?, ?)",
                    arguments: [record.vmid, record.fingerprint, record.observed, record.run, record.pending.joined(separator: ";")])
            }
        }
    }

    /// Forgets guests: deleted, or found changed and not converged.
    public func forgetGuests(_ vmids: [Int]) throws(StateError) {
        guard !vmids.isEmpty else { return }
        try write { db in
            for vmid in vmids { try db.execute(sql: "DELETE FROM guests WHERE vmid = ?", arguments: [vmid]) }
        }
    }
}
