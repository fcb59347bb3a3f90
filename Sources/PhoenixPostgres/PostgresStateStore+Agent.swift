import Foundation
import PhoenixCore
import PostgresNIO
import Synchronization

/// The active agent's lease: a session advisory lock on a connection of its own (neither the
/// writer's, which a run's end may close, nor the pool's), held for the agent's life. When the
/// active agent's session ends (a crash, a host gone, a cut connection), PostgreSQL releases it and
/// a standby's next try takes it.
final class AgentLease: Sendable {
    let connection: PostgresConnection
    let heartbeat: Task<Void, Never>

    init(connection: PostgresConnection, heartbeat: Task<Void, Never>) {
        self.connection = connection
        self.heartbeat = heartbeat
    }
}

extension PostgresStateStore: AgentLeasing {
    public func claimActive(
        _ agent: AgentIdentity, heartbeat: Duration, lost: @escaping @Sendable (String) -> Void
    ) async throws(StateError) -> Bool {
        if lease.withLock({ $0 != nil }) { return true }
        let connection = try await connector.connect()
        count()
        let claimed: Bool
        do {
            let rows = try await connection.query(
                "SELECT phoenix.claim_agent(\(agent.host), \(Int(agent.pid))::integer, \(agent.address))", logger: Connector.quiet
            ).collect()
            claimed = try rows.first?.decode(Bool.self) ?? false
        } catch {
            try? await connection.close()
            throw unavailable(error)
        }
        guard claimed else {
            try? await connection.close()
            return false
        }
        let counter = self.counter
        let task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                guard !Task.isCancelled else { return }
                counter.add()
                do {
                    let rows = try await connection.query(
                        "UPDATE phoenix.agent SET heartbeat = now() WHERE id = 1 AND backend_pid = pg_backend_pid() RETURNING 1", logger: Connector.quiet
                    ).collect()
                    if rows.isEmpty { throw StateError.unavailable(path: "", reason: "the lease row names another agent") }
                } catch {
                    if !Task.isCancelled { lost("its session with PostgreSQL ended (\(Self.reason(error)))") }
                    return
                }
            }
        }
        lease.withLock { $0 = AgentLease(connection: connection, heartbeat: task) }
        return true
    }

    public func activeAgent() async throws(StateError) -> AgentIdentity? {
        let rows = try await query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT host, pid, address, extract(epoch FROM since)::float8, extract(epoch FROM heartbeat)::float8 FROM phoenix.agent
                    WHERE id = 1 AND EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = \(PostgresSchema.namespace)
                        AND objid = \(PostgresSchema.agentKey) AND objsubid = 2 AND granted)
                    """), .read)
        guard let row = rows.first else { return nil }
        let (host, pid, address, since, heartbeat) = try decode(row, (String, Int32, String, Double, Double).self)
        return AgentIdentity(
            host: host, pid: pid, address: address, since: Date(timeIntervalSince1970: since), heartbeat: Date(timeIntervalSince1970: heartbeat))
    }
}
