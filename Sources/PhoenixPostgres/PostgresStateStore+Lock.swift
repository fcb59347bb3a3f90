import Foundation
import PhoenixCore
import PostgresNIO

extension PostgresStateStore: LockInspecting {
    /// The writer's advisory lock in `pg_locks`: whether a session holds it is the truth of "held".
    static let heldLock = """
        SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = \(PostgresSchema.namespace) AND objid = \(PostgresSchema.writerKey)
        AND objsubid = 2 AND granted
        """

    public func lockStatus() async throws(StateError) -> LockStatus {
        let rows = try await query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT EXISTS (\(Self.heldLock)), phoenix.lock_holder()::text, phoenix.last_break()::text
                    """), .read)
        let (held, holder, lastBreak) = try decode(rows.first, (Bool, String?, String?).self)
        return LockStatus(holder: held ? holder.flatMap(Self.json).map(Self.holder) : nil, lastBreak: lastBreak.flatMap(Self.json).map(Self.lockBreak))
    }

    /// Ends the holder's session (`pg_terminate_backend`, waiting up to 10 s for it to go) and
    /// records the break in the same statement; PostgreSQL then releases the lock.
    public func breakLock(by user: String, host: String) async throws(StateError) -> LockStatus {
        let status = try await lockStatus()
        guard status.holder != nil else { return status }
        var binds = PostgresBindings()
        binds.append(user)
        binds.append(host)
        let rows = try await query(
            PostgresQuery(
                unsafeSQL: """
                    WITH holder AS (\(Self.heldLock)),
                    broken AS (
                        INSERT INTO phoenix.lock_breaks (by_user, by_host, at, run_id)
                        SELECT $1, $2, now(), (SELECT run_id FROM phoenix.lock WHERE id = 1) WHERE EXISTS (SELECT 1 FROM holder))
                    SELECT pg_terminate_backend(pid, 10000) FROM holder
                    """, binds: binds), .read)
        for row in rows where try !decode(row, Bool.self) {
            throw StateError.unavailable(path: location.description, reason: "the holder's session did not end within 10 s")
        }
        return status
    }

    static func json(_ text: String) -> JSONValue? { try? JSONParser.parse(Array(text.utf8)).value }

    static func lockBreak(_ row: JSONValue) -> LockBreak {
        LockBreak(by: row["by"]?.stringValue ?? "", at: date(row["at"]) ?? Date(timeIntervalSince1970: 0), run: row["run"]?.intValue.map(Int64.init))
    }

    /// Seconds since 1970, as the schema's functions write times.
    static func date(_ value: JSONValue?) -> Date? { value?.numberValue.map(Date.init(timeIntervalSince1970:)) }
}
