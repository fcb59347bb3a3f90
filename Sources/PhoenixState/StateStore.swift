import Foundation
import GRDB
import PhoenixCore
import Synchronization

/// The state store: runs, the last applied content of every resource, a journal written before and
/// after each mutation, the contents each successful run left (for `phoenix rollback RUN`), and the
/// lock that keeps syncs one at a time. One SQLite file.
public final class StateStore: StateBackend {
    public let path: String
    let database: DatabaseQueue
    /// Fingerprints under this store's key (`<path>.key`, 32 random bytes, mode 0600): resources
    /// that may hold secrets are recorded only as keyed hashes.
    public let digests: ContentDigests
    private let transactions = Atomic<Int>(0)

    /// The transactions this store has made (each a read or a write of its file), for `--stats`.
    public var roundTrips: Int { transactions.load(ordering: .relaxed) }

    /// Opens the store at `path` for reading, or nil when there is none yet: `plan`, `drift` and
    /// `sync --dry-run` never create it.
    public static func existing(path: String) throws(StateError) -> StateStore? {
        FileManager.default.fileExists(atPath: path) ? try StateStore(path: path, readOnly: true) : nil
    }

    /// Opens (creating when needed) the store at `path`; its directory is created with mode 0700.
    public init(path: String, readOnly: Bool = false) throws(StateError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        do {
            if !readOnly && !directory.isEmpty && !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            var configuration = Configuration()
            configuration.busyMode = .timeout(5)
            configuration.readonly = readOnly
            database = try DatabaseQueue(path: path, configuration: configuration)
            if !readOnly {
                chmod(path, 0o600)
                try Self.migrator.migrate(database)
            }
            digests = ContentDigests(key: try Self.key(at: path + ".key", create: !readOnly))
        } catch {
            throw StateError.unavailable(path: path, reason: "\(error)")
        }
    }

    /// The store's hashing key; created once, never printed, never stored in the database.
    static func key(at path: String, create: Bool) throws -> [UInt8]? {
        if let data = FileManager.default.contents(atPath: path), data.count == 32 { return Array(data) }
        guard create else { return nil }
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw StateError.unavailable(path: path, reason: String(cString: strerror(errno))) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do { try handle.write(contentsOf: Data(key)) } catch { throw StateError.unavailable(path: path, reason: "cannot write the key") }
        return key
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "runs") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("started_at", .double).notNull()
                table.column("finished_at", .double)
                table.column("user", .text).notNull()
                table.column("host", .text).notNull()
                table.column("pid", .integer).notNull()
                table.column("command", .text).notNull()
                table.column("outcome", .text).notNull()
                table.column("summary", .text).notNull().defaults(to: "")
            }
            // Contents by digest, stored once however many runs refer to them.
            try db.create(table: "blobs") { table in
                table.primaryKey("digest", .text)
                table.column("content", .blob).notNull()
            }
            try db.create(table: "applied") { table in
                table.primaryKey("resource", .text)
                table.column("unit", .text).notNull()
                table.column("path", .text).notNull()
                table.column("mode", .text).notNull()
                table.column("digest", .text).notNull()
                table.column("run_id", .integer).notNull()
            }
            try db.create(table: "run_resources") { table in
                table.column("run_id", .integer).notNull().indexed()
                table.column("resource", .text).notNull()
                table.column("unit", .text).notNull()
                table.column("path", .text).notNull()
                table.column("mode", .text).notNull()
                table.column("digest", .text).notNull()
                table.primaryKey(["run_id", "resource"])
            }
            try db.create(table: "journal") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("run_id", .integer).notNull().indexed()
                table.column("resource", .text).notNull()
                table.column("phase", .text).notNull()
                table.column("at", .double).notNull()
                table.column("previous_digest", .text)
                table.column("new_digest", .text)
                table.column("detail", .text).notNull().defaults(to: "")
            }
            try db.create(table: "lock") { table in
                table.primaryKey("id", .integer)
                table.column("pid", .integer).notNull()
                table.column("host", .text).notNull()
                table.column("started_at", .double).notNull()
                table.column("run_id", .integer)
            }
        }
        // What converge left on each guest: the next plan reads only guests that differ from it.
        migrator.registerMigration("v2") { db in
            try db.create(table: "guests") { table in
                table.primaryKey("vmid", .integer)
                table.column("fingerprint", .text).notNull()
                table.column("observed", .text).notNull()
                table.column("run_id", .integer).notNull()
                table.column("pending", .text).notNull().defaults(to: "")
            }
        }
        // What phoenix last deployed of each stack: a rollback deploys it again.
        migrator.registerMigration("v3") { db in
            try db.create(table: "stacks") { table in
                table.primaryKey("id", .text)
                table.column("namespace", .text).notNull()
                table.column("spec_hash", .text).notNull()
                table.column("compose", .text).notNull()
                table.column("services", .text).notNull()
                table.column("run_id", .integer).notNull()
            }
        }
        // Any kind's records of its resources, every run's kept: a kind's next plan reads the newest,
        // a rollback the newest as of an earlier run.
        migrator.registerMigration("v4") { db in
            try db.create(table: "kind_records") { table in
                table.column("kind", .text).notNull()
                table.column("resource", .text).notNull()
                table.column("run_id", .integer).notNull()
                table.column("value", .text)
                table.primaryKey(["kind", "resource", "run_id"])
            }
        }
        // Why a run ran and what it converged to: the agent's runs name their trigger and commit,
        // and keep their plan and each resource's outcome as a JSON document.
        migrator.registerMigration("v5") { db in
            try db.alter(table: "runs") { table in
                table.add(column: "trigger", .text)
                table.add(column: "commit_sha", .text)
                table.add(column: "previous_commit", .text)
                table.add(column: "details", .text)
            }
            try db.create(index: "runs_by_commit", on: "runs", columns: ["commit_sha"])
        }
        // The stages each run changed, would change or failed something in (the dashboard's filter).
        migrator.registerMigration("v6") { db in
            try db.alter(table: "runs") { table in table.add(column: "stages", .text) }
        }
        // The kind that journalled each entry: two kinds may name one resource alike.
        migrator.registerMigration("v7") { db in
            try db.alter(table: "journal") { table in table.add(column: "kind", .text) }
        }
        // Whether a run recorded the installed files (`snapshot(run:)`): a rollback to a run that
        // did not returns to the files of the newest run before it that did. Earlier runs recorded
        // them when they were syncs or rollbacks (or kept any file).
        migrator.registerMigration("v8") { db in
            try db.alter(table: "runs") { table in table.add(column: "files_snapshot", .boolean).notNull().defaults(to: false) }
            try db.execute(
                sql: """
                    UPDATE runs SET files_snapshot = 1 WHERE id IN (SELECT DISTINCT run_id FROM run_resources)
                    OR command LIKE 'sync%' OR command LIKE 'rollback%'
                    """)
        }
        return migrator
    }

    func write<T>(_ body: (Database) throws -> T) throws(StateError) -> T {
        transactions.add(1, ordering: .relaxed)
        do {
            return try database.write(body)
        } catch let error as StateError {
            throw error
        } catch {
            throw StateError.unavailable(path: path, reason: "\(error)")
        }
    }

    func read<T>(_ body: (Database) throws -> T) throws(StateError) -> T {
        transactions.add(1, ordering: .relaxed)
        do {
            return try database.read(body)
        } catch {
            throw StateError.unavailable(path: path, reason: "\(error)")
        }
    }
}
