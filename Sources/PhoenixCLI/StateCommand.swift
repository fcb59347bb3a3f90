import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixPostgres

/// `phoenix state lock|unlock|migrate`: the state store itself.
struct StateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "state", abstract: "The state store: who holds its lock, breaking it, copying a store.",
        subcommands: [StateLockCommand.self, StateUnlockCommand.self, StateMigrateCommand.self])
}

/// `phoenix state lock`: who holds the sync lock. Exit 0 when it is free, 2 when it is held.
struct StateLockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Who holds the sync lock (exit 0 free, 2 held), and who last broke it.")

    @OptionGroup var stateStore: StateOptions
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text

    func run() async throws {
        let status = try await Self.status(of: stateStore.location)
        let out = format == .json ? JSONOutput.string(LockReport(status: status).json) : LockReport(status: status).text
        FileHandle.standardOutput.write(Data(out.utf8))
        if status.holder != nil { throw ExitCode(2) }
    }

    /// The lock of the store at `location` (free when there is no store yet).
    static func status(of location: StateLocation) async throws -> LockStatus {
        guard let store = try await location.existing() else { return LockStatus(holder: nil) }
        guard let inspecting = store as? any LockInspecting else { throw fail("the state store \(location) cannot show its lock") }
        do { return try await inspecting.lockStatus() } catch { throw fail(error.description) }
    }
}

/// `phoenix state unlock --force`: ends the holder's session so the lock is released, and records
/// who did. The interrupted run is reported and resumed by the next run, like a crash.
struct StateUnlockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Break the sync lock: end the holder's session (PostgreSQL) and record who did; the next run reports the run interrupted and resumes it."
    )

    @OptionGroup var stateStore: StateOptions
    @Flag(name: .long, help: "Required: the holder's run stops where it is.") var force = false

    func run() async throws {
        guard force else { throw fail("state unlock stops the holder's run where it is: pass --force to do it", code: 64) }
        let location = try stateStore.location
        guard let store = try await location.existing() else {
            FileHandle.standardOutput.write(Data("the lock is free: there is no state store at \(location) yet\n".utf8))
            return
        }
        guard let inspecting = store as? any LockInspecting else { throw fail("the state store \(location) cannot break its lock") }
        let broken: LockStatus
        do { broken = try await inspecting.breakLock(by: RunUser.name, host: ProcessInfo.processInfo.hostName) } catch { throw fail(error.description) }
        guard let holder = broken.holder else {
            FileHandle.standardOutput.write(Data("the lock is free: nothing to break\n".utf8))
            return
        }
        FileHandle.standardOutput.write(Data("broke the lock of \(holder); the next run reports it interrupted and resumes it\n".utf8))
    }
}

/// `state lock` for scripts (field names a contract) and for people.
struct LockReport {
    let status: LockStatus
    private let formatter = ISO8601DateFormatter()

    init(status: LockStatus) { self.status = status }

    var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("version", .number(1)), ("held", .bool(status.holder != nil))]
        if let holder = status.holder {
            members.append(
                (
                    "holder",
                    .object([
                        ("user", .string(holder.user)), ("host", .string(holder.host)), ("pid", .number(Double(holder.pid))),
                        ("run", holder.run.map { .number(Double($0)) } ?? .null), ("command", .string(holder.command)),
                        ("since", .string(formatter.string(from: holder.since))),
                        ("heartbeat", holder.heartbeat.map { .string(formatter.string(from: $0)) } ?? .null),
                    ])
                ))
        }
        if let lastBreak = status.lastBreak {
            members.append(
                (
                    "last_break",
                    .object([
                        ("by", .string(lastBreak.by)), ("at", .string(formatter.string(from: lastBreak.at))),
                        ("run", lastBreak.run.map { .number(Double($0)) } ?? .null),
                    ])
                ))
        }
        return .object(members)
    }

    var text: String {
        var out =
            status.holder.map { holder in
                "held by \(holder)" + (holder.heartbeat.map { "; last heartbeat \(formatter.string(from: $0))" } ?? "") + "\n"
            } ?? "free\n"
        if let lastBreak = status.lastBreak {
            out += "last broken by \(lastBreak.by) at \(formatter.string(from: lastBreak.at))\(lastBreak.run.map { " (run \($0))" } ?? "")\n"
        }
        return out
    }
}

/// `phoenix state migrate --from A --to B`: copies a whole store (every run with its id, the
/// journal, the contents, the records, the hashing key), SQLite to PostgreSQL or back, then checks
/// that both sides hold the same. Safe to run again: a target that already holds the same runs is
/// left as it is; one holding other runs under the same ids is refused.
struct StateMigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy a state store to another (a SQLite file or postgres:// URL either way), keeping run ids; then compare both sides.")

    @Option(name: .long, help: ArgumentHelp("The store to copy.", valueName: "path-or-url")) var from: String
    @Option(name: .long, help: ArgumentHelp("The store to copy it to (created when it does not exist).", valueName: "path-or-url")) var to: String
    @Option(name: .long, help: "The PostgreSQL password's file, for the side that is a URL.") var statePasswordFile: String?

    func run() async throws {
        let source = try StateLocation(option: from, passwordFile: PostgresLocation.isURL(from) ? statePasswordFile : nil)
        let target = try StateLocation(option: to, passwordFile: PostgresLocation.isURL(to) ? statePasswordFile : nil)
        guard source.description != target.description else { throw fail("--from and --to name the same store", code: 64) }
        // Nothing is created where there is no store to copy.
        guard try await source.existing() != nil else { throw fail("--from: there is no state store at \(source)") }
        let copy = try await Self.dump(try await source.writable(), at: source)
        guard let into = try await target.writable() as? any StateDumping else { throw fail("--to: the state store \(target) cannot take a copy") }
        let before: StateDump
        do { before = try await into.dump() } catch { throw fail(error.description) }
        if before == copy {
            print("\(target) already holds the same: \(copy.counts); nothing to copy")
            return
        }
        if let conflict = copy.conflict(with: before) { throw fail("--to: \(target) holds other runs: \(conflict); nothing was copied") }
        // Nothing is replaced under a run that is going there.
        if let holder = try? await (into as? any LockInspecting)?.lockStatus().holder {
            throw fail("--to: \(holder) holds the lock of \(target); nothing was copied (wait for it, or phoenix state unlock --force)")
        }
        do { try await into.load(copy) } catch { throw fail(error.description) }
        let after: StateDump
        do { after = try await into.dump() } catch { throw fail(error.description) }
        guard after == copy else { throw fail("the copy in \(target) differs from \(source) after it was written: \(after.counts) against \(copy.counts)") }
        print("copied \(copy.counts) from \(source) to \(target); both sides hold the same")
    }

    static func dump(_ store: any StateBackend, at location: StateLocation) async throws -> StateDump {
        guard let dumping = store as? any StateDumping else { throw fail("--from: the state store \(location) cannot be copied") }
        do { return try await dumping.dump() } catch { throw fail(error.description) }
    }
}
