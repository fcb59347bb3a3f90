/// The state store's schema on PostgreSQL, in the schema `phoenix` of the database the URL names
/// (one database, one estate). The tables hold what SQLite's do; what takes several statements there
/// is one function here, so that each of the store's calls is one round trip and atomic.
///
/// Versions are numbered like SQLite's migrations; `phoenix.schema_version` holds the applied ones.
/// They run in one transaction under a transaction-scoped advisory lock, so two phoenix processes
/// starting at once do not both migrate: the second waits, then finds nothing left to do.
enum PostgresSchema {
    /// The advisory lock that keeps one writer per estate: `pg_try_advisory_lock(namespace, 1)` on
    /// the dedicated connection of the run that holds it ("phoe" as a 32-bit integer).
    static let namespace: Int32 = 0x7068_6f65
    static let writerKey: Int32 = 1
    /// The transaction-scoped lock migrations take.
    static let migrationKey: Int32 = 2
    /// The active agent's lease, held on a connection of its own for the agent's life.
    static let agentKey: Int32 = 3

    static let current = migrations.count

    /// Each version's statements, applied in order.
    static let migrations: [[String]] = [version1]

    static let version1 = [
        "CREATE SCHEMA IF NOT EXISTS phoenix",
        "CREATE TABLE phoenix.settings (name text PRIMARY KEY, value text NOT NULL)",
        """
        CREATE TABLE phoenix.runs (
            id bigserial PRIMARY KEY, started_at timestamptz NOT NULL, finished_at timestamptz, "user" text NOT NULL, host text NOT NULL,
            pid integer NOT NULL, command text NOT NULL, outcome text NOT NULL, summary text NOT NULL DEFAULT '', trigger text, commit_sha text,
            previous_commit text, details text, stages text, files_snapshot boolean NOT NULL DEFAULT false)
        """,
        "CREATE INDEX runs_by_commit ON phoenix.runs (commit_sha)",
        "CREATE INDEX runs_by_outcome ON phoenix.runs (outcome)",
        // Contents by digest, kept once however many runs refer to them (text: phoenix installs text files).
        "CREATE TABLE phoenix.blobs (digest text PRIMARY KEY, content text NOT NULL)",
        """
        CREATE TABLE phoenix.applied (
            resource text PRIMARY KEY, unit text NOT NULL, path text NOT NULL, mode text NOT NULL, digest text NOT NULL, run_id bigint NOT NULL)
        """,
        """
        CREATE TABLE phoenix.run_resources (
            run_id bigint NOT NULL, resource text NOT NULL, unit text NOT NULL, path text NOT NULL, mode text NOT NULL, digest text NOT NULL,
            PRIMARY KEY (run_id, resource))
        """,
        """
        CREATE TABLE phoenix.journal (
            id bigserial PRIMARY KEY, run_id bigint NOT NULL, resource text NOT NULL, kind text NOT NULL DEFAULT '', phase text NOT NULL,
            at timestamptz NOT NULL, previous_digest text, new_digest text, detail text NOT NULL DEFAULT '')
        """,
        "CREATE INDEX journal_by_run ON phoenix.journal (run_id, id)",
        "CREATE INDEX journal_verified ON phoenix.journal (resource, id) WHERE phase = 'verified' AND new_digest IS NOT NULL",
        """
        CREATE TABLE phoenix.guests (
            vmid integer PRIMARY KEY, fingerprint text NOT NULL, observed text NOT NULL, run_id bigint NOT NULL, pending text NOT NULL DEFAULT '')
        """,
        """
        CREATE TABLE phoenix.stacks (
            id text PRIMARY KEY, namespace text NOT NULL, spec_hash text NOT NULL, compose text NOT NULL, services text NOT NULL, run_id bigint NOT NULL)
        """,
        """
        CREATE TABLE phoenix.kind_records (
            kind text NOT NULL, resource text NOT NULL, run_id bigint NOT NULL, value text, PRIMARY KEY (kind, resource, run_id))
        """,
        // Who holds the writer's lock (the advisory lock is the truth; this row says who and since when).
        """
        CREATE TABLE phoenix.lock (
            id integer PRIMARY KEY CHECK (id = 1), "user" text NOT NULL, host text NOT NULL, pid integer NOT NULL, run_id bigint NOT NULL,
            command text NOT NULL, since timestamptz NOT NULL, heartbeat timestamptz NOT NULL, backend_pid integer NOT NULL)
        """,
        // Every `state unlock --force`: who broke whose lock, and when.
        """
        CREATE TABLE phoenix.lock_breaks (
            id bigserial PRIMARY KEY, by_user text NOT NULL, by_host text NOT NULL, at timestamptz NOT NULL, run_id bigint)
        """,
        // The active agent (several may point at one database; one holds the lease).
        """
        CREATE TABLE phoenix.agent (
            id integer PRIMARY KEY CHECK (id = 1), host text NOT NULL, pid integer NOT NULL, address text NOT NULL, since timestamptz NOT NULL,
            heartbeat timestamptz NOT NULL, backend_pid integer NOT NULL)
        """,
        lockHolder, lastBreak, beginRun, finishRun, snapshot, claimAgent,
    ]

    /// Takes the active agent's lease on this session when no session holds it, and records who.
    static let claimAgent = """
        CREATE FUNCTION phoenix.claim_agent(p_host text, p_pid integer, p_address text) RETURNS boolean
        LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT pg_try_advisory_lock(\(namespace), \(agentKey)) THEN
                RETURN false;
            END IF;
            INSERT INTO phoenix.agent (id, host, pid, address, since, heartbeat, backend_pid)
            VALUES (1, p_host, p_pid, p_address, now(), now(), pg_backend_pid())
            ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, address = EXCLUDED.address, since = EXCLUDED.since,
                heartbeat = EXCLUDED.heartbeat, backend_pid = EXCLUDED.backend_pid;
            RETURN true;
        END $$
        """

    /// The lock row as JSON, times in seconds since 1970 (nil: no row).
    static let lockHolder = """
        CREATE FUNCTION phoenix.lock_holder() RETURNS jsonb LANGUAGE sql STABLE AS $$
            SELECT jsonb_build_object('user', "user", 'host', host, 'pid', pid, 'run', run_id, 'command', command,
                'since', extract(epoch FROM since), 'heartbeat', extract(epoch FROM heartbeat))
            FROM phoenix.lock WHERE id = 1
        $$
        """

    /// The last break of the lock as JSON (nil: never broken).
    static let lastBreak = """
        CREATE FUNCTION phoenix.last_break() RETURNS jsonb LANGUAGE sql STABLE AS $$
            SELECT jsonb_build_object('by', by_user || '@' || by_host, 'at', extract(epoch FROM at), 'run', run_id)
            FROM phoenix.lock_breaks ORDER BY id DESC LIMIT 1
        $$
        """

    /// Takes the writer's lock on this session and opens a run (a new one, or `queued`). Returns
    /// `{"held": holder}` when another session holds it, `{"unknown": run}` for a queued run that is
    /// no longer waiting, else `{"run": id, "interrupted": [ids]}`: the runs left `running` by a
    /// session that ended (a crash, a kill, a host gone, `state unlock --force`), now marked.
    static let beginRun = """
        CREATE FUNCTION phoenix.begin_run(p_command text, p_user text, p_host text, p_pid integer, p_queued bigint) RETURNS jsonb
        LANGUAGE plpgsql AS $$
        DECLARE
            v_run bigint;
            v_interrupted jsonb;
        BEGIN
            IF NOT pg_try_advisory_lock(\(namespace), \(writerKey)) THEN
                RETURN jsonb_build_object('held', COALESCE(phoenix.lock_holder(), '{}'::jsonb));
            END IF;
            IF p_queued IS NOT NULL AND NOT EXISTS (SELECT 1 FROM phoenix.runs WHERE id = p_queued AND outcome = 'queued') THEN
                PERFORM pg_advisory_unlock(\(namespace), \(writerKey));
                RETURN jsonb_build_object('unknown', p_queued);
            END IF;
            -- The lock was free, so whoever the row names is gone.
            DELETE FROM phoenix.lock WHERE id = 1;
            WITH marked AS (
                UPDATE phoenix.runs r SET outcome = 'interrupted', finished_at = COALESCE(r.finished_at, r.started_at),
                    summary = COALESCE(
                        (SELECT 'interrupted: its lock was broken by ' || b.by_user || '@' || b.by_host || ' at '
                            || to_char(b.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                         FROM phoenix.lock_breaks b WHERE b.run_id = r.id ORDER BY b.id DESC LIMIT 1),
                        'interrupted before it finished')
                WHERE r.outcome = 'running' RETURNING r.id)
            SELECT COALESCE(jsonb_agg(id ORDER BY id), '[]'::jsonb) INTO v_interrupted FROM marked;
            IF p_queued IS NULL THEN
                INSERT INTO phoenix.runs (started_at, "user", host, pid, command, outcome)
                VALUES (now(), p_user, p_host, p_pid, p_command, 'running') RETURNING id INTO v_run;
            ELSE
                UPDATE phoenix.runs SET started_at = now(), pid = p_pid, outcome = 'running' WHERE id = p_queued
                RETURNING id, "user", host, command INTO v_run, p_user, p_host, p_command;
            END IF;
            INSERT INTO phoenix.lock (id, "user", host, pid, run_id, command, since, heartbeat, backend_pid)
            VALUES (1, p_user, p_host, p_pid, v_run, p_command, now(), now(), pg_backend_pid());
            RETURN jsonb_build_object('run', v_run, 'interrupted', v_interrupted);
        END $$
        """

    /// Closes a run; when this session holds the writer's lock for it, releases the lock.
    static let finishRun = """
        CREATE FUNCTION phoenix.finish_run(p_run bigint, p_outcome text, p_summary text, p_stages text) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE phoenix.runs SET finished_at = now(), outcome = p_outcome, summary = p_summary, stages = p_stages WHERE id = p_run;
            IF EXISTS (SELECT 1 FROM phoenix.lock WHERE id = 1 AND run_id = p_run AND backend_pid = pg_backend_pid()) THEN
                DELETE FROM phoenix.lock WHERE id = 1;
                PERFORM pg_advisory_unlock(\(namespace), \(writerKey));
            END IF;
        END $$
        """

    /// Keeps the whole applied state as the one `p_run` leaves behind.
    static let snapshot = """
        CREATE FUNCTION phoenix.snapshot(p_run bigint) RETURNS void
        LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM phoenix.run_resources WHERE run_id = p_run;
            INSERT INTO phoenix.run_resources (run_id, resource, unit, path, mode, digest)
                SELECT p_run, resource, unit, path, mode, digest FROM phoenix.applied;
            UPDATE phoenix.runs SET files_snapshot = true WHERE id = p_run;
        END $$
        """
}
