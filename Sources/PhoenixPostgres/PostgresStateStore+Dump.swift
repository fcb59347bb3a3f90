import Foundation
import PhoenixCore
import PostgresNIO

extension PostgresStateStore: StateDumping {
    /// Times as whole microseconds since 1970 (`StateDump`'s form).
    private static func micros(_ column: String) -> String { "(extract(epoch FROM \(column)) * 1000000)::bigint" }

    public func dump() async throws(StateError) -> StateDump {
        let keyRows = try await query("SELECT value FROM phoenix.settings WHERE name = 'digest_key'", .read)
        guard let key = PostgresMigrations.bytes(hex: try decode(keyRows.first, String.self)) else {
            throw StateError.unavailable(path: location.description, reason: "its hashing key is not 32 bytes")
        }
        var dump = StateDump(key: key)
        for row in try await query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT id, \(Self.micros("started_at")), \(Self.micros("finished_at")), "user", host, pid, command, outcome, summary, trigger,
                    commit_sha, previous_commit, details, stages, files_snapshot FROM phoenix.runs
                    """), .read)
        {
            let columns = try decode(
                row, (Int64, Int64, Int64?, String, String, Int64, String, String, String, String?, String?, String?, String?, String?, Bool).self)
            let (id, started, finished, user, host, pid, command, outcome, summary, trigger, commit, previous, details, stages, files) = columns
            dump.runs.append(
                StateDump.Run(
                    id: id, startedAt: started, finishedAt: finished, user: user, host: host, pid: pid, command: command, outcome: outcome, summary: summary,
                    trigger: trigger, commit: commit, previousCommit: previous, details: details, stages: stages, filesSnapshot: files))
        }
        for row in try await query(
            PostgresQuery(
                unsafeSQL: "SELECT id, run_id, resource, kind, phase, \(Self.micros("at")), previous_digest, new_digest, detail FROM phoenix.journal"), .read)
        {
            let (id, run, resource, kind, phase, at, previous, new, detail) = try decode(
                row, (Int64, Int64, String, String, String, Int64, String?, String?, String).self)
            dump.journal.append(
                StateDump.Entry(
                    id: id, run: run, resource: resource, kind: kind, phase: phase, at: at, previousDigest: previous, newDigest: new, detail: detail))
        }
        for row in try await query("SELECT digest, content FROM phoenix.blobs", .read) {
            let (digest, content) = try decode(row, (String, String).self)
            dump.blobs.append(StateDump.Blob(digest: digest, content: content))
        }
        for (table, isSnapshot) in [("applied", false), ("run_resources", true)] {
            for row in try await query(PostgresQuery(unsafeSQL: "SELECT run_id, resource, unit, path, mode, digest FROM phoenix.\(table)"), .read) {
                let (run, resource, unit, path, mode, digest) = try decode(row, (Int64, String, String, String, String, String).self)
                let file = StateDump.File(run: run, resource: resource, unit: unit, path: path, mode: mode, digest: digest)
                if isSnapshot { dump.runResources.append(file) } else { dump.applied.append(file) }
            }
        }
        for row in try await query("SELECT vmid, fingerprint, observed, run_id, pending FROM phoenix.guests", .read) {
            let (vmid, fingerprint, observed, run, pending) = try decode(row, (Int64, String, String, Int64, String).self)
            dump.guests.append(StateDump.Guest(vmid: vmid, fingerprint: fingerprint, observed: observed, run: run, pending: pending))
        }
        for row in try await query("SELECT id, namespace, spec_hash, compose, services, run_id FROM phoenix.stacks", .read) {
            let (id, namespace, specHash, compose, services, run) = try decode(row, (String, String, String, String, String, Int64).self)
            dump.stacks.append(StateDump.Stack(id: id, namespace: namespace, specHash: specHash, compose: compose, services: services, run: run))
        }
        for row in try await query("SELECT kind, resource, run_id, value FROM phoenix.kind_records", .read) {
            let (kind, resource, run, value) = try decode(row, (String, String, Int64, String?).self)
            dump.kindRecords.append(StateDump.KindValue(kind: kind, resource: resource, run: run, value: value))
        }
        return dump.sorted()
    }

    /// Replaces every table's rows in one transaction on the store's own connection, a few thousand
    /// rows per statement; the id sequences continue after the copied ids.
    public func load(_ dump: StateDump) async throws(StateError) {
        if let run = writer.withLock({ $0.run }) {
            throw StateError.unavailable(path: location.description, reason: "run \(run) of this store is going: a copy replaces nothing under it")
        }
        let key = dump.key.map { String(format: "%02x", $0) }.joined()
        let statements = Self.loadStatements(dump)
        do {
            let connection = try await ownConnection()
            try await connection.withTransaction(logger: Connector.quiet) { connection in
                for statement in statements {
                    count()
                    try await connection.query(statement, logger: Connector.quiet)
                }
                count()
                try await connection.query(
                    "INSERT INTO phoenix.settings (name, value) VALUES ('digest_key', \(key)) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                    logger: Connector.quiet)
            }
        } catch let error as StateError {
            throw error
        } catch {
            throw unavailable(error)
        }
    }

    /// Nullable text columns travel as their values ("" for none) and a flag each.
    private static func nullable(_ values: [String?]) -> (values: [String], null: [Bool]) { (values.map { $0 ?? "" }, values.map { $0 == nil }) }

    private static func loadStatements(_ dump: StateDump) -> [PostgresQuery] {
        var statements: [PostgresQuery] = [
            "DELETE FROM phoenix.runs", "DELETE FROM phoenix.journal", "DELETE FROM phoenix.blobs", "DELETE FROM phoenix.applied",
            "DELETE FROM phoenix.run_resources", "DELETE FROM phoenix.guests", "DELETE FROM phoenix.stacks", "DELETE FROM phoenix.kind_records",
        ]
        let size = 2_000
        for chunk in chunks(dump.runs, size) {
            let (finished, finishedNull) = (chunk.map { $0.finishedAt ?? 0 }, chunk.map { $0.finishedAt == nil })
            let trigger = nullable(chunk.map(\.trigger))
            let commit = nullable(chunk.map(\.commit))
            let previous = nullable(chunk.map(\.previousCommit))
            let details = nullable(chunk.map(\.details))
            let stages = nullable(chunk.map(\.stages))
            statements.append(
                """
                INSERT INTO phoenix.runs (id, started_at, finished_at, "user", host, pid, command, outcome, summary, trigger, commit_sha, previous_commit,
                    details, stages, files_snapshot)
                SELECT id, to_timestamp(started / 1000000.0), CASE WHEN finished_null THEN NULL ELSE to_timestamp(finished / 1000000.0) END, u, h, pid, c, o, s,
                    CASE WHEN t_null THEN NULL ELSE t END, CASE WHEN c_null THEN NULL ELSE cm END, CASE WHEN p_null THEN NULL ELSE p END,
                    CASE WHEN d_null THEN NULL ELSE d END, CASE WHEN st_null THEN NULL ELSE st END, f
                FROM unnest(\(chunk.map(\.id))::bigint[], \(chunk.map(\.startedAt))::bigint[], \(finished)::bigint[], \(finishedNull)::bool[],
                    \(chunk.map(\.user))::text[], \(chunk.map(\.host))::text[], \(chunk.map { Int($0.pid) })::bigint[], \(chunk.map(\.command))::text[],
                    \(chunk.map(\.outcome))::text[], \(chunk.map(\.summary))::text[], \(trigger.values)::text[], \(trigger.null)::bool[],
                    \(commit.values)::text[], \(commit.null)::bool[], \(previous.values)::text[], \(previous.null)::bool[], \(details.values)::text[],
                    \(details.null)::bool[], \(stages.values)::text[], \(stages.null)::bool[], \(chunk.map(\.filesSnapshot))::bool[])
                    AS t(id, started, finished, finished_null, u, h, pid, c, o, s, t, t_null, cm, c_null, p, p_null, d, d_null, st, st_null, f)
                """)
        }
        for chunk in chunks(dump.journal, size) {
            let previous = nullable(chunk.map(\.previousDigest))
            let new = nullable(chunk.map(\.newDigest))
            statements.append(
                """
                INSERT INTO phoenix.journal (id, run_id, resource, kind, phase, at, previous_digest, new_digest, detail)
                SELECT id, run, r, k, ph, to_timestamp(at / 1000000.0), CASE WHEN p_null THEN NULL ELSE p END, CASE WHEN n_null THEN NULL ELSE n END, d
                FROM unnest(\(chunk.map(\.id))::bigint[], \(chunk.map(\.run))::bigint[], \(chunk.map(\.resource))::text[], \(chunk.map(\.kind))::text[],
                    \(chunk.map(\.phase))::text[], \(chunk.map(\.at))::bigint[], \(previous.values)::text[], \(previous.null)::bool[], \(new.values)::text[],
                    \(new.null)::bool[], \(chunk.map(\.detail))::text[]) AS t(id, run, r, k, ph, at, p, p_null, n, n_null, d)
                """)
        }
        for chunk in chunks(dump.blobs, size) {
            statements.append(
                "INSERT INTO phoenix.blobs (digest, content) SELECT * FROM unnest(\(chunk.map(\.digest))::text[], \(chunk.map(\.content))::text[])")
        }
        for (table, files) in [("applied", dump.applied), ("run_resources", dump.runResources)] {
            for chunk in chunks(files, size) {
                var binds = PostgresBindings()
                binds.append(chunk.map(\.run))
                binds.append(chunk.map(\.resource))
                binds.append(chunk.map(\.unit))
                binds.append(chunk.map(\.path))
                binds.append(chunk.map(\.mode))
                binds.append(chunk.map(\.digest))
                statements.append(
                    PostgresQuery(
                        unsafeSQL: """
                            INSERT INTO phoenix.\(table) (run_id, resource, unit, path, mode, digest)
                            SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                            """, binds: binds))
            }
        }
        for chunk in chunks(dump.guests, size) {
            statements.append(
                """
                INSERT INTO phoenix.guests (vmid, fingerprint, observed, run_id, pending)
                SELECT * FROM unnest(\(chunk.map { Int($0.vmid) })::integer[], \(chunk.map(\.fingerprint))::text[], \(chunk.map(\.observed))::text[],
                    \(chunk.map(\.run))::bigint[], \(chunk.map(\.pending))::text[])
                """)
        }
        for chunk in chunks(dump.stacks, size) {
            statements.append(
                """
                INSERT INTO phoenix.stacks (id, namespace, spec_hash, compose, services, run_id)
                SELECT * FROM unnest(\(chunk.map(\.id))::text[], \(chunk.map(\.namespace))::text[], \(chunk.map(\.specHash))::text[],
                    \(chunk.map(\.compose))::text[], \(chunk.map(\.services))::text[], \(chunk.map(\.run))::bigint[])
                """)
        }
        for chunk in chunks(dump.kindRecords, size) {
            let value = nullable(chunk.map(\.value))
            statements.append(
                """
                INSERT INTO phoenix.kind_records (kind, resource, run_id, value)
                SELECT k, r, run, CASE WHEN v_null THEN NULL ELSE v END FROM unnest(\(chunk.map(\.kind))::text[], \(chunk.map(\.resource))::text[],
                    \(chunk.map(\.run))::bigint[], \(value.values)::text[], \(value.null)::bool[]) AS t(k, r, run, v, v_null)
                """)
        }
        // New runs and entries continue after the copied ids.
        statements.append("SELECT setval('phoenix.runs_id_seq', COALESCE((SELECT max(id) FROM phoenix.runs), 0) + 1, false)")
        statements.append("SELECT setval('phoenix.journal_id_seq', COALESCE((SELECT max(id) FROM phoenix.journal), 0) + 1, false)")
        return statements
    }

    private static func chunks<T>(_ items: [T], _ size: Int) -> [ArraySlice<T>] {
        stride(from: 0, to: items.count, by: size).map { items[$0..<min($0 + size, items.count)] }
    }
}
