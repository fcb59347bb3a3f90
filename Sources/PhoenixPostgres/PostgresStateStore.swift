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
    let connector: Connector
    private let pool: PostgresClient
    private let poolTask: Task<Void, Never>
    let writer = Mutex<Writer>(Writer())
    /// The active agent's lease, while this process holds it.
    let lease = Mutex<AgentLease?>(nil)
    let counter: StatementCounter
    /// How often the holder proves it is alive (the lock row's heartbeat).
    let heartbeatInterval: Duration

    /// The statements this store has sent (each one a round trip), for `--stats` and the benchmark.
    public var roundTrips: Int { counter.total }

    /// The connection that holds the writer's lock, the run it holds it for, and what that run reads.
    struct Writer: Sendable {
        var connection: PostgresConnection?
        var run: Int64?
        var holder: LockHolder?
        var image: StateImage?
        /// Why the lock is no longer held, once its session ended.
        var lost: String?
        var heartbeat: Task<Void, Never>?
        /// The connection being opened, which every caller meanwhile waits for (one, not one each).
        var connecting: Task<Result<PostgresConnection, StateError>, Never>?
    }

    /// Opens the store, creating or upgrading its schema unless `readOnly`. Read-only against a
    /// database phoenix has never written: nil (`plan`, `drift` and `--dry-run` create nothing).
    /// The first connection is the writer's own, made directly so that a refusal (a wrong password,
    /// an unknown database, a certificate) is said as PostgreSQL said it.
    public static func open(
        _ location: PostgresLocation, password: PostgresPassword?, readOnly: Bool = false, heartbeat: Duration = .seconds(10)
    ) async throws(StateError) -> PostgresStateStore? {
        let connector = try Connector(location: location, password: password)
        let connection = try await connector.connect()
        let statements = StatementCounter()
        let key: [UInt8]?
        do {
            key = try await PostgresMigrations.prepare(connection, location: location, readOnly: readOnly, statements: statements)
        } catch {
            try? await connection.close()
            throw error
        }
        guard let key else {
            try? await connection.close()
            return nil
        }
        return PostgresStateStore(location: location, connector: connector, connection: connection, key: key, statements: statements, heartbeat: heartbeat)
    }

    private init(
        location: PostgresLocation, connector: Connector, connection: PostgresConnection, key: [UInt8], statements: StatementCounter, heartbeat: Duration
    ) {
        self.location = location
        self.connector = connector
        self.pool = PostgresClient(configuration: connector.poolConfiguration, backgroundLogger: Connector.quiet)
        self.poolTask = Task { [pool] in await pool.run() }
        self.digests = ContentDigests(key: key)
        self.heartbeatInterval = heartbeat
        self.counter = statements
        writer.withLock { $0.connection = connection }
    }

    /// Ends the pool and the writer's connection (releasing a lock still held, as a crash would).
    public func close() async {
        let (connection, heartbeat) = writer.withLock { writer in
            defer { writer = Writer() }
            return (writer.connection, writer.heartbeat)
        }
        heartbeat?.cancel()
        try? await connection?.close()
        if let held = lease.withLock({ lease in
            defer { lease = nil }; return lease
        }) {
            held.heartbeat.cancel()
            try? await held.connection.close()
        }
        poolTask.cancel()
    }

    deinit {
        poolTask.cancel()
        let connection = writer.withLock { writer in
            writer.heartbeat?.cancel()
            return writer.connection
        }
        // The connections stay referenced until they have closed (postgres-nio checks that they were).
        if let connection, !connection.isClosed { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
        if let held = lease.withLock({ $0 }) {
            held.heartbeat.cancel()
            if !held.connection.isClosed { held.connection.close().whenComplete { _ in withExtendedLifetime(held) {} } }
        }
    }

    // MARK: Statements

    /// What a statement does: reads, writes (which a run makes only through its lock's session), or
    /// the run's own reads as it begins (through that session too: no second connection for them).
    enum Route { case read, write, session }

    /// Sends one statement and collects its rows.
    /// - While this store holds the lock for a run, its writes go through the lock's session and fail
    ///   once that session has ended (`lockLost`); its reads go through the pool, beside them.
    /// - Otherwise everything goes through the store's own connection (reopened when it was closed):
    ///   a command that reads or writes outside a run opens one connection, not a pool.
    @discardableResult
    func query(_ query: PostgresQuery, _ route: Route) async throws(StateError) -> [PostgresRow] {
        let (connection, run, lost) = writer.withLock { ($0.connection, $0.run, $0.lost) }
        guard let run else {
            let own = try await writerConnection()
            counter.add()
            do { return try await own.query(query, logger: Connector.quiet).collect() } catch { throw unavailable(error) }
        }
        guard route != .read else {
            counter.add()
            do {
                return try await pool.query(query, logger: Connector.quiet).collect()
            } catch let error as PSQLError {
                throw unavailable(error)
            } catch {
                // The pool's own errors (its connections keep failing) carry no server message.
                throw StateError.unavailable(path: location.description, reason: "the pool could not reach PostgreSQL (\(error))")
            }
        }
        if route == .write, let lost { throw StateError.lockLost(run: run, reason: lost) }
        guard let connection, !connection.isClosed else { throw loseLock(run: run, reason: "its session with \(location) ended") }
        counter.add()
        do {
            return try await connection.query(query, logger: Connector.quiet).collect()
        } catch {
            if connection.isClosed { throw loseLock(run: run, reason: "its session with \(location) ended (\(Self.reason(error)))") }
            throw unavailable(error)
        }
    }

    public func confirmLock(run: Int64) throws(StateError) {
        let (connection, held, lost) = writer.withLock { ($0.connection, $0.run, $0.lost) }
        guard held == run else { return }
        if let lost { throw StateError.lockLost(run: run, reason: lost) }
        if connection?.isClosed ?? true { throw loseLock(run: run, reason: "its session with \(location) ended") }
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

    /// The store's own connection, for a transaction of several statements (`load`).
    func ownConnection() async throws(StateError) -> PostgresConnection { try await writerConnection() }

    /// Counts a statement sent outside `query` (inside a transaction).
    func count() { counter.add() }

    /// The store's own connection (the writer's lock lives on it), reopened when it was closed and
    /// kept for the next run (the agent's).
    private func writerConnection() async throws(StateError) -> PostgresConnection {
        let connector = self.connector
        let (open, connecting) = writer.withLock { writer -> (PostgresConnection?, Task<Result<PostgresConnection, StateError>, Never>?) in
            if let open = writer.connection, !open.isClosed { return (open, nil) }
            if writer.connecting == nil {
                writer.connecting = Task { () async -> Result<PostgresConnection, StateError> in
                    do throws(StateError) { return .success(try await connector.connect()) } catch { return .failure(error) }
                }
            }
            return (nil, writer.connecting)
        }
        if let open { return open }
        guard let connecting else { throw StateError.unavailable(path: location.description, reason: "no connection was being opened") }
        let connection = try await connecting.value.get()
        // Kept as the store's own, unless another open one took its place meanwhile (then this one goes).
        let kept = writer.withLock { writer -> PostgresConnection in
            if writer.connecting == connecting { writer.connecting = nil }
            if let current = writer.connection, !current.isClosed { return current }
            writer.connection = connection
            return connection
        }
        if kept !== connection { connection.close().whenComplete { _ in withExtendedLifetime(connection) {} } }
        return kept
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
                        "UPDATE phoenix.lock SET heartbeat = now() WHERE id = 1 AND run_id = \(run) AND backend_pid = pg_backend_pid() RETURNING 1",
                        logger: Connector.quiet
                    ).collect()
                    if rows.isEmpty { throw StateError.unavailable(path: "", reason: "the lock row names another run") }
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
            run: row["run"]?.intValue.map(Int64.init), command: row["command"]?.stringValue ?? "", since: date(row["since"]) ?? Date(timeIntervalSince1970: 0),
            heartbeat: date(row["heartbeat"]))
    }
}
