import ArgumentParser
import Foundation
import PhoenixAgent
import PhoenixCore
import PhoenixEngine
import PhoenixPostgres
import PhoenixState

/// `--state`, `--state-password-file` and `--lock-timeout`: where the state store is, how phoenix
/// signs in to it, and how long a run waits for another to finish.
struct StateOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The state store: a SQLite file, or postgres://user@host:port/db?sslmode=verify-full&sslrootcert=CA (default: $PHOENIX_STATE, else /var/lib/phoenix/state.sqlite).",
            valueName: "path-or-url"))
    var state: String?

    @Option(
        name: .long,
        help: "A file holding the PostgreSQL password (a trailing newline is ignored); else $PGPASSWORD, else $PGPASSFILE or ~/.pgpass.")
    var statePasswordFile: String?

    @Option(name: .long, help: "How long to wait while another run holds the lock: 30s, 5m, 1h (default 0: refuse at once).")
    var lockTimeout: LockTimeout = LockTimeout(seconds: 0)

    var location: StateLocation { get throws { try StateLocation(option: state, passwordFile: statePasswordFile) } }

    /// These options as arguments, to hand to another command (the password stays in its file).
    var arguments: [String] {
        (state.map { ["--state", $0] } ?? []) + (statePasswordFile.map { ["--state-password-file", $0] } ?? [])
            + (lockTimeout.seconds > 0 ? ["--lock-timeout", "\(lockTimeout.seconds)"] : [])
    }

    /// While this run waits for the lock, a line on stderr names the holder (whatever --progress says).
    var lockWait: LockWait? {
        guard lockTimeout.seconds > 0 else { return nil }
        return LockWait(timeout: .seconds(lockTimeout.seconds)) { holder in
            FileHandle.standardError.write(Data("waiting for the lock: \(holder) holds it\n".utf8))
        }
    }
}

/// `--lock-timeout`: `0`, or a duration as the agent writes them (`30s`, `5m`, `1h`).
struct LockTimeout: ExpressibleByArgument {
    let seconds: Double

    init(seconds: Double) { self.seconds = seconds }

    init?(argument: String) {
        if argument.trimmingCharacters(in: .whitespaces) == "0" {
            seconds = 0
        } else if let seconds = AgentDuration.seconds(argument) {
            self.seconds = seconds
        } else {
            return nil
        }
    }
}

/// Where the state store is: `--state`, else $PHOENIX_STATE, else /var/lib/phoenix/state.sqlite. A
/// `postgres://` URL is parsed here, at the boundary; only its redacted form is ever printed.
struct StateLocation: CustomStringConvertible {
    enum Store {
        case sqlite(path: String)
        case postgres(PostgresLocation, password: PostgresPassword?)
    }

    let store: Store

    init(option: String?, passwordFile: String? = nil) throws {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.value.isEmpty }
        let text = option ?? environment["PHOENIX_STATE"] ?? "/var/lib/phoenix/state.sqlite"
        guard PostgresLocation.isURL(text) else {
            if passwordFile != nil { throw fail("--state-password-file: the state store \(text) is a SQLite file, which takes no password", code: 64) }
            store = .sqlite(path: text)
            return
        }
        let location: PostgresLocation
        do { location = try PostgresLocation(parsing: text, defaultUser: Self.userName) } catch { throw fail(error.description, code: 64) }
        do {
            let password = try PostgresPassword.find(for: location, passwordFile: passwordFile, environment: environment) { path in
                FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
            }
            store = .postgres(location, password: password)
        } catch {
            throw fail(error.description, code: 64)
        }
    }

    /// libpq's default role: the operating-system user.
    static var userName: String { RunUser.account ?? "postgres" }

    /// The SQLite path, or the URL without anything secret in it.
    var description: String {
        switch store {
        case let .sqlite(path): path
        case let .postgres(location, _): location.description
        }
    }

    /// The directory beside a SQLite file (the agent's work directory goes there); nil on PostgreSQL.
    var directory: String? {
        guard case let .sqlite(path) = store else { return nil }
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }

    /// The store for reading; nil when there is none yet (nothing is created).
    func existing() async throws -> (any StateBackend)? {
        do {
            switch store {
            case let .sqlite(path): return try StateStore.existing(path: path)
            case let .postgres(location, password): return try await PostgresStateStore.open(location, password: password, readOnly: true)
            }
        } catch {
            throw fail(error.description)
        }
    }

    func writable() async throws -> any StateBackend {
        do {
            switch store {
            case let .sqlite(path): return try StateStore(path: path)
            case let .postgres(location, password):
                guard let store = try await PostgresStateStore.open(location, password: password) else {
                    throw StateError.unavailable(path: location.description, reason: "it could not be created")
                }
                return store
            }
        } catch let error as StateError {
            throw fail(error.description)
        }
    }
}
