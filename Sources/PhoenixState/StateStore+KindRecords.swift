import Foundation
import GRDB
import PhoenixCore

extension StateStore {
    public func kindRecords(_ kind: String, asOf run: Int64?) throws(StateError) -> [String: KindRecord] {
        try read { db in
            var records: [String: KindRecord] = [:]
            // A store written before kinds kept records has no table yet (read-only: not migrated).
            guard try db.tableExists("kind_records") else { return records }
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT resource, value, run_id FROM kind_records AS r
                    WHERE kind = ? AND run_id <= ? AND run_id = (
                        SELECT MAX(run_id) FROM kind_records WHERE kind = r.kind AND resource = r.resource AND run_id <= ?)
                    """,
                arguments: [kind, run ?? Int64.max, run ?? Int64.max])
            for row in rows {
                guard let value: String = row["value"] else { continue }
                let record = KindRecord(resource: row["resource"], value: value, run: row["run_id"])
                records[record.resource] = record
            }
            return records
        }
    }

    public func recordKind(_ kind: String, resource: String, value: String?, run: Int64) throws(StateError) {
        try write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO kind_records (kind, resource, run_id, value) VALUES (?, ?, ?, ?)", arguments: [kind, resource, run, value])
        }
    }
}
