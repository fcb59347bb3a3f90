import Foundation
import PhoenixCore
import PostgresNIO
import Synchronization

/// Brings the database's schema to `PostgresSchema.current` and reads the store's hashing key.
enum PostgresMigrations {
    /// The key, after migrating when needed; nil when `readOnly` and phoenix never wrote here. A
    /// current schema costs one statement.
    static func prepare(
        _ connection: PostgresConnection, location: PostgresLocation, readOnly: Bool, statements: StatementCounter
    ) async throws(StateError) -> [UInt8]? {
        func unavailable(_ error: any Error) -> StateError {
            .unavailable(path: location.description, reason: PostgresStateStore.reason(error))
        }
        var (version, key) = try await read(connection, statements: statements, location: location)
        if version > PostgresSchema.current {
            throw StateError.unavailable(
                path: location.description,
                reason: "its schema is version \(version), newer than this phoenix knows (\(PostgresSchema.current)): upgrade phoenix")
        }
        if version == PostgresSchema.current, let key { return key }
        if readOnly {
            guard version > 0 else { return nil }
            throw StateError.unavailable(
                path: location.description, reason: "its schema is version \(version); a run that writes (phoenix sync) upgrades it first")
        }
        do {
            try await connection.withTransaction(logger: Connector.quiet) { connection in
                statements.add()
                try await connection.query("SELECT pg_advisory_xact_lock(\(PostgresSchema.namespace), \(PostgresSchema.migrationKey))", logger: Connector.quiet)
                try await migrate(connection, statements: statements)
            }
        } catch {
            throw unavailable(error)
        }
        (version, key) = try await read(connection, statements: statements, location: location)
        guard let key else { throw StateError.unavailable(path: location.description, reason: "the store's hashing key is missing after migrating") }
        return key
    }

    /// The applied version (0 when phoenix never wrote here) and the key, in one statement.
    private static func read(
        _ connection: PostgresConnection, statements: StatementCounter, location: PostgresLocation
    ) async throws(StateError) -> (Int, [UInt8]?) {
        statements.add()
        do {
            let rows = try await connection.query(
                "SELECT (SELECT max(version) FROM phoenix.schema_version), (SELECT value FROM phoenix.settings WHERE name = 'digest_key')",
                logger: Connector.quiet
            ).collect()
            guard let row = rows.first else { return (0, nil) }
            let (version, key) = try row.decode((Int?, String?).self)
            return (version ?? 0, key.flatMap(Self.bytes(hex:)))
        } catch let error as PSQLError where ["42P01", "3F000"].contains(error.serverInfo?[.sqlState] ?? "") {
            return (0, nil)  // no schema or no table yet
        } catch {
            throw .unavailable(path: location.description, reason: PostgresStateStore.reason(error))
        }
    }

    /// Runs the versions not applied yet, inside the caller's transaction (which holds the lock).
    private static func migrate(_ connection: PostgresConnection, statements: StatementCounter) async throws {
        func run(_ sql: String) async throws {
            statements.add()
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Connector.quiet)
        }
        try await run("CREATE SCHEMA IF NOT EXISTS phoenix")
        try await run("CREATE TABLE IF NOT EXISTS phoenix.schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
        statements.add()
        let applied =
            try await connection.query("SELECT COALESCE(max(version), 0) FROM phoenix.schema_version", logger: Connector.quiet).collect()
            .first?.decode(Int.self) ?? 0
        for version in (applied + 1)..<(PostgresSchema.current + 1) {
            for statement in PostgresSchema.migrations[version - 1] { try await run(statement) }
            statements.add()
            try await connection.query("INSERT INTO phoenix.schema_version (version) VALUES (\(version))", logger: Connector.quiet)
        }
        // The hashing key every operator and agent of this estate shares: made once, never printed.
        var generator = SystemRandomNumberGenerator()
        let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        statements.add()
        try await connection.query(
            "INSERT INTO phoenix.settings (name, value) VALUES ('digest_key', \(key)) ON CONFLICT (name) DO NOTHING", logger: Connector.quiet)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let characters = Array(hex.utf8)
        guard characters.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: characters[index..<index + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
