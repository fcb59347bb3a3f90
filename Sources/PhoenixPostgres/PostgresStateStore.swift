import Foundation
import Logging
import NIOSSL
import PhoenixCore
import PostgresNIO
import Synchronization

/// The state store on PostgreSQL: what SQLite keeps in one file, shared by every operator and agent
/// of one estate, with one writer at a time.
///
/// - **The writer's lock** is a session advisory lock taken on a connection of its own (never one of
///   the pool's, where a lock could outlive its run), with a row naming the holder written in the same
///   statement and a heartbeat every 10 s. PostgreSQL releases it when that session ends (a crash, a
///   kill, a host gone, `state unlock --force`).
/// - **A run writes only through that connection**, so once its session has ended nothing more of it
///   is recorded: its next write fails (`StateError.lockLost`) and the run stops there.
/// - **A run reads what it compares with once**: when the lock is taken, the applied files, guests,
///   stacks, kinds' records and verified digests come in one statement, and the run (the only writer)
///   keeps them current. Reads outside a run go to the pool.
/// - Each call is one statement: what takes several is a function of the schema (`PostgresSchema`).
public final class PostgresStateStore: StateBackend {
    public let location: PostgresLocation
    public let digests: ContentDigests
    private let connector: Connector
    private let pool: PostgresClient
    private let poolTask: Task<Void, Never>
    private let writer = Mutex<Writer>(Writer())
    private let counter: StatementCounter
    /// How often the holder proves it is alive (the lock row's heartbeat).
    let heartbeatInterval: Duration

    /// The statements this store has sent (each one a round trip), for `--stats` and the benchmark.
    public var statements: Int { counter.total }

    /// The connection that holds the writer's lock, the run it holds it for, and what that run reads.
    struct Writer: @unchecked Sendable {
        var connection: PostgresConnection?
        var run: Int64?
        var holder: LockHolder?
        var image: StateImage?
        /// Why the lock is no longer held, once its session ended.
        var lost: String?
        var heartbeat: Task<Void, Never>?
    }

    /// Opens the store, creating or upgrading its schema unless `readOnly`. Read-only against a
    /// database phoenix has never written: nil (`plan`, `drift` and `--dry-run` create nothing).
    public static func open(
        _ location: PostgresLocation, password: PostgresPassword?, readOnly: Bool = false, heartbeat: Duration = .seconds(10)
    ) async throws(StateError) -> PostgresStateStore? {
        let connector = try Connector(location: location, password: password)
        let pool = PostgresClient(configuration: connector.poolConfiguration, backgroundLogger: Connector.quiet)
        let poolTask = Task { await pool.run() }
        do {
            let statements = StatementCounter()
            guard let key = try await PostgresMigrations.prepare(pool: pool, connector: connector, readOnly: readOnly, statements: statements) else {
                poolTask.cancel()
                return nil
            }
            return PostgresStateStore(
                location: location, connector: connector, pool: pool, poolTask: poolTask, key: key, statements: statements,
                heartbeat: heartbeat)
        } catch {
            poolTask.cancel()
            throw error
        }
    }

    private init(
        location: PostgresLocation, connector: Connector, pool: PostgresClient, poolTask: Task<Void, Never>, key: [UInt8], statements: StatementCounter,
        heartbeat: Duration
    ) {
        self.location = location
        self.connector = connector
        self.pool = pool
        self.poolTask = poolTask
        self.digests = ContentDigests(key: key)
        self.heartbeatInterval = heartbeat
        self.counter = statements
    }

    /// Ends the pool and the writer's connection (releasing a lock still held, as a crash would).
    public func close() async {
        let (connection, heartbeat) = writer.withLock { writer in
            defer { writer = Writer() }
            return (writer.connection, writer.heartbeat)
        }
        heartbeat?.cancel()
        try? await connection?.close()
        poolTask.cancel()
    }

    deinit {
        poolTask.cancel()
        let connection = writer.withLock { writer in
            writer.heartbeat?.cancel()
            return writer.connection
        }
        connection?.close().whenComplete { _ in }
    }

    // MARK: Statements

    /// Where a statement goes: the pool, or the writer's connection while this store holds the lock.
    enum Route { case read, write }

    /// Sends one statement and collects its rows. A write while this store holds the lock goes
    /// through the lock's session, and fails once that session has ended.
    @discardableResult
    func query(_ query: PostgresQuery, _ route: Route) async throws(StateError) -> [PostgresRow] {
        let writerConnection: PostgresConnection?
        if route == .write {
            let (connection, run, lost) = writer.withLock { ($0.connection, $0.run, $0.lost) }
            if let run, let lost { throw StateError.lockLost(run: run, reason: lost) }
            writerConnection = run == nil ? nil : connection
            if let run, let connection = writerConnection, connection.isClosed {
                throw loseLock(run: run, reason: "its session with \(location) ended")
            }
        } else {
            writerConnection = nil
        }
        counter.add()
        do {
            if let writerConnection {
                return try await writerConnection.query(query, logger: Connector.quiet).collect()
            }
            return try await pool.query(query, logger: Connector.quiet).collect()
        } catch {
            if let writerConnection, let run = writer.withLock({ $0.run }), writerConnection.isClosed {
                throw loseLock(run: run, reason: "its session with \(location) ended (\(Self.reason(error)))")
            }
            throw unavailable(error)
        }
    }

    /// Records that the lock is gone and returns the error every later write throws.
    func loseLock(run: Int64, reason: String) -> StateError {
        writer.withLock { writer in
            if writer.lost == nil { writer.lost = reason }
            writer.heartbeat?.cancel()
        }
        return .lockLost(run: run, reason: reason)
    }

    func unavailable(_ error: any Error) -> StateError {
        if let error = error as? StateError { return error }
        return .unavailable(path: location.description, reason: Self.reason(error))
    }

    /// What PostgreSQL said, or what stopped the connection: never the query's binds or a password.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] {
                return "PostgreSQL: \(message)" + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
            }
            if let underlying = error.underlying { return "\(error.code): \(underlying)" }
            return "\(error.code)"
        }
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].compactMap { $0 }.map { reason($0) }.first ?? "a transaction failed"
        }
        return "\(error)"
    }

    // MARK: The image a run reads

    /// What a run compares with, read once when it takes the lock and kept current by its writes.
    var image: StateImage? { writer.withLock { $0.image } }

    func updateImage(_ change: (inout StateImage) -> Void) {
        writer.withLock { writer in
            guard writer.image != nil else { return }
            change(&writer.image!)
        }
    }

    // MARK: The writer's lock

    /// Takes the writer's lock on this store's own connection and opens (or starts) a run.
    func begin(
        command: String, user: String, host: String, pid: Int32, queued: Int64?
    ) async throws(StateError) -> (
        run: Int64, interrupted: [RunRecord]
    ) {
        if let holder = writer.withLock({ $0.run == nil ? nil : $0.holder }) { throw StateError.locked(holder) }
        let connection = try await writerConnection()
        counter.add()
        let answer: String
        do {
            let rows = try await connection.query(
                "SELECT phoenix.begin_run(\(command), \(user), \(host), \(Int(pid))::integer, \(queued)::bigint)::text", logger: Connector.quiet
            ).collect()
            answer = try rows.first?.decode(String.self) ?? "{}"
        } catch {
            // A session lock is not released by a failed statement: end the session instead.
            await dropWriterConnection()
            throw unavailable(error)
        }
        let parsed = (try? JSONParser.parse(Array(answer.utf8)).value) ?? .object([])
        if let held = parsed["held"] { throw StateError.locked(Self.holder(held)) }
        if parsed["unknown"] != nil { throw StateError.unknownRun(queued ?? 0) }
        guard let run = parsed["run"]?.intValue.map(Int64.init) else {
            await dropWriterConnection()
            throw StateError.unavailable(path: location.description, reason: "phoenix.begin_run answered \(answer)")
        }
        let interruptedIDs = (parsed["interrupted"]?.arrayItems ?? []).compactMap { $0.intValue.map(Int64.init) }
        let holder = LockHolder(user: user, host: host, pid: pid, run: run, command: command, since: Date())
        writer.withLock { writer in
            writer.run = run
            writer.holder = holder
            writer.lost = nil
        }
        do {
            let image = try await StateImage.read(from: self)
            let interrupted = interruptedIDs.isEmpty ? [] : try await runs(ids: interruptedIDs)
            writer.withLock { $0.image = image }
            startHeartbeat(run: run, on: connection)
            return (run, interrupted)
        } catch {
            await dropWriterConnection()
            throw error
        }
    }

    /// Closes a run: through the lock's session when this store holds it for that run (which then
    /// releases it), else through the pool.
    func finish(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) async throws(StateError) {
        let stageList = stages.isEmpty ? nil : stages.sorted().map(\.rawValue).joined(separator: ",")
        let holds = writer.withLock { $0.run == run }
        try await query("SELECT phoenix.finish_run(\(run), \(outcome.rawValue), \(summary), \(stageList)::text)", holds ? .write : .read)
        guard holds else { return }
        writer.withLock { writer in
            writer.heartbeat?.cancel()
            writer.heartbeat = nil
            writer.run = nil
            writer.holder = nil
            writer.image = nil
        }
    }

    /// The writer's connection, opened on first use and kept for the next run (the agent's).
    private func writerConnection() async throws(StateError) -> PostgresConnection {
        if let open = writer.withLock({ $0.connection }), !open.isClosed { return open }
        do {
            let connection = try await PostgresConnection.connect(configuration: connector.connectionConfiguration(), id: 1, logger: Connector.quiet)
            writer.withLock { $0.connection = connection }
            return connection
        } catch {
            throw unavailable(error)
        }
    }

    private func dropWriterConnection() async {
        let connection = writer.withLock { writer in
            defer { writer = Writer() }
            writer.heartbeat?.cancel()
            return writer.connection
        }
        try? await connection?.close()
    }

    /// Every `heartbeatInterval`, the lock row's heartbeat; a failed one (the session ended, the row
    /// taken) loses the lock.
    private func startHeartbeat(run: Int64, on connection: PostgresConnection) {
        let interval = heartbeatInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled, let self else { return }
                do {
                    self.counter.add()
                    let rows = try await connection.query(
                        "UPDATE phoenix.lock SET heartbeat = now() WHERE id = 1 AND run_id = \(run) AND backend_pid = pg_backend_pid()",
                        logger: Connector.quiet
                    ).collect()
                    _ = rows
                } catch {
                    if !Task.isCancelled { _ = self.loseLock(run: run, reason: "its heartbeat failed: \(Self.reason(error))") }
                    return
                }
            }
        }
        writer.withLock { $0.heartbeat = task }
    }

    static func holder(_ row: JSONValue) -> LockHolder {
        LockHolder(
            user: row["user"]?.stringValue ?? "", host: row["host"]?.stringValue ?? "", pid: Int32(row["pid"]?.intValue ?? 0),
            run: row["run_id"]?.intValue.map(Int64.init), command: row["command"]?.stringValue ?? "",
            since: row["since"]?.stringValue.flatMap(PostgresTime.parse) ?? Date(timeIntervalSince1970: 0),
            heartbeat: row["heartbeat"]?.stringValue.flatMap(PostgresTime.parse))
    }
}

/// Timestamps as `to_jsonb` writes them: `2026-12-06T10:00:00.123456+00:00`.
enum PostgresTime {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
