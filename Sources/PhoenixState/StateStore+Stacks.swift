import Foundation
import GRDB
import PhoenixCore

extension StateStore {
    public func stackRecords() throws(StateError) -> [String: StackRecord] {
        try read { db in
            var records: [String: StackRecord] = [:]
            // A store written before stacks were recorded has no table yet (read-only: not migrated).
            guard try db.tableExists("stacks") else { return records }
            for row in try Row.fetchAll(db, sql: "SELECT id, namespace, spec_hash, compose, services, run_id FROM stacks") {
                let text: String = row["services"]
                var services: [String: String] = [:]
                if let parsed = try? JSONParser.parse(Array(text.utf8)).value {
                    for member in parsed.objectMembers { services[member.key] = member.value.stringValue }
                }
                let record = StackRecord(
                    id: row["id"], namespace: row["namespace"], specHash: row["spec_hash"], compose: row["compose"], services: services, run: row["run_id"])
                records[record.id] = record
            }
            return records
        }
    }

    public func recordStack(_ record: StackRecord) throws(StateError) {
        let services = JSONWriter(sortedKeys: true, pretty: false).string(
            .object(record.services.keys.sorted().map { ($0, .string(record.services[$0]!)) }))
        try write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO stacks (id, namespace, spec_hash, compose, services, run_id) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [record.id, record.namespace, record.specHash, record.compose, services, record.run])
        }
    }

    public func forgetStack(_ id: String) throws(StateError) {
        try write { db in try db.execute(sql: "DELETE FROM stacks WHERE id = ?", arguments: [id]) }
    }
}
