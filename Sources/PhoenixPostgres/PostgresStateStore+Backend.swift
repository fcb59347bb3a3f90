import Foundation
import PhoenixCore
import PostgresNIO

extension PostgresStateStore {
    // MARK: Runs and the lock

    public func beginRun(command: String, user: String, host: String, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try await begin(command: command, user: user, host: host, pid: pid, queued: nil)
    }

    public func beginRun(queued run: Int64, pid: Int32) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        guard let record = try await self.run(run), record.outcome == "queued" else { throw StateError.unknownRun(run) }
        return try await begin(command: record.command, user: record.user, host: record.host, pid: pid, queued: run)
    }

    public func finishRun(_ run: Int64, outcome: RunOutcome, summary: String, stages: Set<SyncStage>) async throws(StateError) {
        try await finish(run, outcome: outcome, summary: summary, stages: stages)
    }

    public func queueRun(command: String, user: String, host: String, pid: Int32, trigger: RunTrigger) async throws(StateError) -> Int64 {
        let rows = try await query(
            """
            INSERT INTO phoenix.runs (started_at, "user", host, pid, command, outcome, trigger)
            VALUES (now(), \(user), \(host), \(Int(pid)), \(command), 'queued', \(Self.encode(trigger))) RETURNING id
            """, .write)
        return try decode(rows.first, Int64.self)
    }

    public func annotateRun(_ run: Int64, commit: String?, previousCommit: String?, details: String?) async throws(StateError) {
        try await query(
            """
            UPDATE phoenix.runs SET commit_sha = COALESCE(\(commit), commit_sha), previous_commit = COALESCE(\(previousCommit), previous_commit),
            details = COALESCE(\(details), details) WHERE id = \(run)
            """, .write)
    }

    public func runDetails(_ run: Int64) async throws(StateError) -> String? {
        let rows = try await query("SELECT details FROM phoenix.runs WHERE id = \(run)", .read)
        guard let row = rows.first else { return nil }
        return try decode(row, String?.self)
    }

    public func lastAppliedCommit() async throws(StateError) -> RunRecord? {
        try await runs(
            where: "commit_sha IS NOT NULL AND outcome IN ('succeeded', 'no changes') ORDER BY id DESC LIMIT 1", PostgresBindings()
        ).first
    }

    public func runs(limit: Int, before: Int64?) async throws(StateError) -> [RunRecord] {
        var binds = PostgresBindings()
        binds.append(before ?? Int64.max)
        binds.append(Int64(max(1, limit)))
        return try await runs(where: "id < $1 ORDER BY id DESC LIMIT $2", binds)
    }

    public func run(_ id: Int64) async throws(StateError) -> RunRecord? {
        var binds = PostgresBindings()
        binds.append(id)
        return try await runs(where: "id = $1", binds).first
    }

    func runs(ids: [Int64]) async throws(StateError) -> [RunRecord] {
        var binds = PostgresBindings()
        binds.append(ids)
        return try await runs(where: "id = ANY($1) ORDER BY id", binds, route: .session)
    }

    private func runs(where condition: String, _ binds: PostgresBindings, route: Route = .read) async throws(StateError) -> [RunRecord] {
        let rows = try await query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT id, started_at, finished_at, "user", host, pid, command, outcome, summary, trigger, commit_sha, previous_commit, stages
                    FROM phoenix.runs WHERE \(condition)
                    """, binds: binds), route)
        return try rows.map { row throws(StateError) in
            let columns: (Int64, Date, Date?, String, String, Int32, String, String, String, String?, String?, String?, String?)
            do {
                columns = try row.decode((Int64, Date, Date?, String, String, Int32, String, String, String, String?, String?, String?, String?).self)
            } catch {
                throw unavailable(error)
            }
            let (id, started, finished, user, host, pid, command, outcome, summary, trigger, commit, previous, stages) = columns
            return RunRecord(
                id: id, startedAt: started, finishedAt: finished, user: user, host: host, pid: pid, command: command, outcome: outcome, summary: summary,
                trigger: trigger.flatMap(Self.decode), commit: commit, previousCommit: previous,
                stages: (stages ?? "").split(separator: ",").map { SyncStage(named: String($0)) })
        }
    }

    static func encode(_ trigger: RunTrigger) -> String {
        (try? JSONEncoder().encode(trigger)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func decode(_ text: String) -> RunTrigger? { try? JSONDecoder().decode(RunTrigger.self, from: Data(text.utf8)) }

    /// A row's columns as `types` (a failure is the store's, naming what PostgreSQL sent).
    func decode<each Column: PostgresDecodable>(_ row: PostgresRow?, _ types: (repeat each Column).Type) throws(StateError) -> (repeat each Column) {
        guard let row else { throw StateError.unavailable(path: location.description, reason: "PostgreSQL answered no row") }
        do { return try row.decode(types, context: .default) } catch { throw unavailable(error) }
    }

    // MARK: The journal

    public func journal(
        run: Int64, resource: String, kind: String, phase: JournalPhase, previousDigest: String?, newDigest: String?, detail: String
    ) async throws(StateError) {
        try await query(
            """
            INSERT INTO phoenix.journal (run_id, resource, kind, phase, at, previous_digest, new_digest, detail)
            VALUES (\(run), \(resource), \(kind), \(phase.rawValue), now(), \(previousDigest), \(newDigest), \(detail))
            """, .write)
        if phase == .verified, let newDigest { updateImage { $0.verified[resource] = newDigest } }
    }

    /// One step's journal lines in one statement, in their order (ids follow the array's).
    public func journal(run: Int64, _ entries: [JournalWrite]) async throws(StateError) {
        guard !entries.isEmpty else { return }
        if entries.count == 1, let entry = entries.first {
            return try await journal(
                run: run, resource: entry.resource, kind: entry.kind, phase: entry.phase, previousDigest: entry.previousDigest, newDigest: entry.newDigest,
                detail: entry.detail)
        }
        let previous = entries.map { $0.previousDigest ?? "" }
        let new = entries.map { $0.newDigest ?? "" }
        try await query(
            """
            INSERT INTO phoenix.journal (run_id, resource, kind, phase, at, previous_digest, new_digest, detail)
            SELECT \(run), r, k, p, now(), NULLIF(pd, ''), NULLIF(nd, ''), d
            FROM unnest(\(entries.map(\.resource))::text[], \(entries.map(\.kind))::text[], \(entries.map(\.phase.rawValue))::text[], \(previous)::text[],
                \(new)::text[], \(entries.map(\.detail))::text[]) WITH ORDINALITY AS t(r, k, p, pd, nd, d, n)
            ORDER BY n
            """, .write)
        updateImage { image in
            for entry in entries where entry.phase == .verified { if let digest = entry.newDigest { image.verified[entry.resource] = digest } }
        }
    }

    public func journal(run: Int64) async throws(StateError) -> [JournalEntry] {
        let rows = try await query("SELECT resource, kind, phase, detail FROM phoenix.journal WHERE run_id = \(run) ORDER BY id", .read)
        return try rows.map { row throws(StateError) in
            let (resource, kind, phase, detail) = try decode(row, (String, String, String, String).self)
            return JournalEntry(runID: run, resource: resource, kind: kind, phase: JournalPhase(rawValue: phase) ?? .failed, detail: detail)
        }
    }

    public func unfinishedResources(in runs: [Int64]) async throws(StateError) -> Set<String> {
        guard !runs.isEmpty else { return [] }
        let rows = try await query("SELECT resource, phase FROM phoenix.journal WHERE run_id = ANY(\(runs)) ORDER BY id", .read)
        var open = Set<String>()
        for row in rows {
            let (resource, phaseName) = try decode(row, (String, String).self)
            guard let phase = JournalPhase(rawValue: phaseName) else { continue }
            if phase == .intent { open.insert(resource) } else if phase.isFinal { open.remove(resource) }
        }
        return open
    }

    public func verifiedDigests(prefix: String) async throws(StateError) -> [String: String] {
        if let image { return image.verified.filter { $0.key.hasPrefix(prefix) } }
        let rows = try await query(
            """
            SELECT DISTINCT ON (resource) resource, new_digest FROM phoenix.journal
            WHERE phase = 'verified' AND new_digest IS NOT NULL AND starts_with(resource, \(prefix)) ORDER BY resource, id DESC
            """, .read)
        var digests: [String: String] = [:]
        for row in rows {
            let (resource, digest) = try decode(row, (String, String).self)
            digests[resource] = digest
        }
        return digests
    }

    // MARK: What phoenix applied

    public func applied() async throws(StateError) -> [String: AppliedRecord] {
        if let image { return image.applied }
        var records: [String: AppliedRecord] = [:]
        for row in try await query("SELECT resource, unit, path, mode, digest FROM phoenix.applied", .read) {
            let (id, unitKey, path, mode, digest) = try decode(row, (String, String, String, String, String).self)
            guard let unit = ServiceUnit(key: unitKey) else { continue }
            records[id] = AppliedRecord(id: id, unit: unit, path: path, mode: mode, digest: digest)
        }
        return records
    }

    public func recordApplied(run: Int64, _ resource: Resource) async throws(StateError) {
        try await recordApplied(run: run, [resource])
    }

    /// Records resources as installed in one statement; contents are kept for rollback unless a
    /// resource is sensitive, whose contents are never sent (only its keyed hash).
    public func recordApplied(run: Int64, _ resources: [Resource]) async throws(StateError) {
        guard !resources.isEmpty else { return }
        let records = resources.map { resource in
            (resource, digests.digest(resource.contents, sensitive: resource.sensitive))
        }
        let ids = records.map(\.0.id)
        let units = records.map(\.0.unit.key)
        let paths = records.map(\.0.path)
        let modes = records.map(\.0.mode)
        let hashes = records.map(\.1)
        let kept = records.map { !$0.0.sensitive }
        let contents = records.map { $0.0.sensitive ? "" : $0.0.contents }
        try await query(
            """
            WITH input AS (
                SELECT * FROM unnest(\(ids)::text[], \(units)::text[], \(paths)::text[], \(modes)::text[], \(hashes)::text[], \(kept)::bool[],
                    \(contents)::text[]) WITH ORDINALITY AS t(resource, unit, path, mode, digest, kept, content, n)),
            blobs AS (
                INSERT INTO phoenix.blobs (digest, content) SELECT DISTINCT ON (digest) digest, content FROM input WHERE kept
                ON CONFLICT (digest) DO NOTHING)
            INSERT INTO phoenix.applied (resource, unit, path, mode, digest, run_id)
            SELECT DISTINCT ON (resource) resource, unit, path, mode, digest, \(run) FROM input ORDER BY resource, n DESC
            ON CONFLICT (resource) DO UPDATE SET unit = EXCLUDED.unit, path = EXCLUDED.path, mode = EXCLUDED.mode, digest = EXCLUDED.digest,
                run_id = EXCLUDED.run_id
            """, .write)
        updateImage { image in
            for (resource, digest) in records {
                image.applied[resource.id] = AppliedRecord(id: resource.id, unit: resource.unit, path: resource.path, mode: resource.mode, digest: digest)
            }
        }
    }

    public func recordDeleted(id: String) async throws(StateError) {
        try await query("DELETE FROM phoenix.applied WHERE resource = \(id)", .write)
        updateImage { $0.applied[id] = nil }
    }

    public func snapshot(run: Int64) async throws(StateError) {
        try await query("SELECT phoenix.snapshot(\(run))", .write)
    }

    public func snapshot(of run: Int64) async throws(StateError) -> (resources: [Resource], withoutContents: [AppliedRecord]) {
        guard let record = try await self.run(run) else { throw StateError.unknownRun(run) }
        guard [RunOutcome.succeeded, .noChanges].map(\.rawValue).contains(record.outcome) else {
            throw StateError.runNotRestorable(run, outcome: record.outcome)
        }
        // Every row carries the run whose files these are (nil: none up to this one recorded them)
        // and whether phoenix manages any file now; a row of NULLs stands for "no files".
        let rows = try await query(
            """
            WITH source AS (SELECT max(id) AS id FROM phoenix.runs WHERE id <= \(run) AND files_snapshot),
            managed AS (SELECT EXISTS (SELECT 1 FROM phoenix.applied) AS present)
            SELECT r.resource, r.unit, r.path, r.mode, r.digest, b.content, (SELECT id FROM source), (SELECT present FROM managed)
            FROM phoenix.run_resources r LEFT JOIN phoenix.blobs b ON b.digest = r.digest WHERE r.run_id = (SELECT id FROM source)
            UNION ALL SELECT NULL, NULL, NULL, NULL, NULL, NULL, (SELECT id FROM source), (SELECT present FROM managed)
                WHERE NOT EXISTS (SELECT 1 FROM phoenix.run_resources WHERE run_id = (SELECT id FROM source))
            ORDER BY 1
            """, .read)
        var resources: [Resource] = []
        var withoutContents: [AppliedRecord] = []
        var source: Int64?
        var managed = false
        for row in rows {
            let columns = try decode(row, (String?, String?, String?, String?, String?, String?, Int64?, Bool).self)
            let (id, unitKey, path, mode, digest, content, recorded, any) = columns
            (source, managed) = (recorded, any)
            guard let id, let unitKey, let unit = ServiceUnit(key: unitKey), let path, let mode, let digest else { continue }
            if let content {
                resources.append(
                    Resource(
                        id: id, unit: unit, path: path, contents: content, mode: mode, activation: Resource.activation(of: id),
                        origin: "the state run \(run) left"))
            } else {
                withoutContents.append(AppliedRecord(id: id, unit: unit, path: path, mode: mode, digest: digest))
            }
        }
        guard source != nil else {
            // No files then and none now: nothing to put back. Files phoenix manages now that no run
            // up to this one recorded would read as "no files" and all be removed: refused.
            if managed { throw StateError.runChangedNoFiles(run, command: record.command) }
            return ([], [])
        }
        return (resources, withoutContents)
    }

    public func content(digest: String) async throws(StateError) -> String? {
        let rows = try await query("SELECT content FROM phoenix.blobs WHERE digest = \(digest)", .read)
        guard let row = rows.first else { return nil }
        return try decode(row, String.self)
    }

    // MARK: Guests

    public func guestRecords() async throws(StateError) -> [Int: GuestRecord] {
        if let image { return image.guests }
        var records: [Int: GuestRecord] = [:]
        for row in try await query("SELECT vmid, fingerprint, observed, run_id, pending FROM phoenix.guests", .read) {
            let (vmid, fingerprint, observed, run, pending) = try decode(row, (Int, String, String, Int64, String).self)
            records[vmid] = GuestRecord(vmid: vmid, fingerprint: fingerprint, observed: observed, run: run, pending: Self.pending(pending))
        }
        return records
    }

    public func recordGuests(_ records: [GuestRecord]) async throws(StateError) {
        guard !records.isEmpty else { return }
        try await query(
            """
            INSERT INTO phoenix.guests (vmid, fingerprint, observed, run_id, pending)
            SELECT DISTINCT ON (vmid) vmid, fingerprint, observed, run_id, pending FROM unnest(
                \(records.map(\.vmid))::integer[], \(records.map(\.fingerprint))::text[], \(records.map(\.observed))::text[],
                \(records.map(\.run))::bigint[], \(records.map { $0.pending.joined(separator: ";") })::text[])
                WITH ORDINALITY AS t(vmid, fingerprint, observed, run_id, pending, n)
            ORDER BY vmid, n DESC
            ON CONFLICT (vmid) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, observed = EXCLUDED.observed, run_id = EXCLUDED.run_id,
                pending = EXCLUDED.pending
            """, .write)
        updateImage { image in for record in records { image.guests[record.vmid] = record } }
    }

    public func forgetGuests(_ vmids: [Int]) async throws(StateError) {
        guard !vmids.isEmpty else { return }
        try await query("DELETE FROM phoenix.guests WHERE vmid = ANY(\(vmids)::integer[])", .write)
        updateImage { image in for vmid in vmids { image.guests[vmid] = nil } }
    }

    static func pending(_ text: String) -> [String] { text.split(separator: ";").map(String.init) }

    // MARK: Stacks

    public func stackRecords() async throws(StateError) -> [String: StackRecord] {
        if let image { return image.stacks }
        var records: [String: StackRecord] = [:]
        for row in try await query("SELECT id, namespace, spec_hash, compose, services, run_id FROM phoenix.stacks", .read) {
            let (id, namespace, specHash, compose, services, run) = try decode(row, (String, String, String, String, String, Int64).self)
            records[id] = StackRecord(id: id, namespace: namespace, specHash: specHash, compose: compose, services: Self.services(services), run: run)
        }
        return records
    }

    public func recordStack(_ record: StackRecord) async throws(StateError) {
        let services = JSONWriter(sortedKeys: true, pretty: false).string(
            .object(record.services.keys.sorted().map { ($0, .string(record.services[$0]!)) }))
        try await query(
            """
            INSERT INTO phoenix.stacks (id, namespace, spec_hash, compose, services, run_id)
            VALUES (\(record.id), \(record.namespace), \(record.specHash), \(record.compose), \(services), \(record.run))
            ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, spec_hash = EXCLUDED.spec_hash, compose = EXCLUDED.compose,
                services = EXCLUDED.services, run_id = EXCLUDED.run_id
            """, .write)
        updateImage { $0.stacks[record.id] = record }
    }

    public func forgetStack(_ id: String) async throws(StateError) {
        try await query("DELETE FROM phoenix.stacks WHERE id = \(id)", .write)
        updateImage { $0.stacks[id] = nil }
    }

    static func services(_ text: String) -> [String: String] {
        var services: [String: String] = [:]
        if let parsed = try? JSONParser.parse(Array(text.utf8)).value {
            for member in parsed.objectMembers { services[member.key] = member.value.stringValue }
        }
        return services
    }

    // MARK: Any kind's records

    public func kindRecords(_ kind: String, asOf run: Int64?) async throws(StateError) -> [String: KindRecord] {
        if run == nil, let image { return image.kinds[kind] ?? [:] }
        let rows = try await query(
            """
            SELECT DISTINCT ON (resource) resource, value, run_id FROM phoenix.kind_records
            WHERE kind = \(kind) AND run_id <= \(run ?? Int64.max) ORDER BY resource, run_id DESC
            """, .read)
        var records: [String: KindRecord] = [:]
        for row in rows {
            let (resource, value, recorded) = try decode(row, (String, String?, Int64).self)
            guard let value else { continue }
            records[resource] = KindRecord(resource: resource, value: value, run: recorded)
        }
        return records
    }

    public func recordKind(_ kind: String, resource: String, value: String?, run: Int64) async throws(StateError) {
        try await query(
            """
            INSERT INTO phoenix.kind_records (kind, resource, run_id, value) VALUES (\(kind), \(resource), \(run), \(value))
            ON CONFLICT (kind, resource, run_id) DO UPDATE SET value = EXCLUDED.value
            """, .write)
        updateImage { image in
            image.kinds[kind, default: [:]][resource] = value.map { KindRecord(resource: resource, value: $0, run: run) }
        }
    }
}
