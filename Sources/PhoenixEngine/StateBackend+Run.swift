import Foundation
import PhoenixCore

/// How long a run waits while another holds the sync lock (`--lock-timeout`), and whom it tells:
/// `waiting` hears each holder once, as the wait begins and when another run takes the lock.
public struct LockWait: Sendable {
    public var timeout: Duration
    /// How often the lock is tried again.
    public var interval: Duration
    public var waiting: @Sendable (LockHolder) -> Void

    public init(timeout: Duration, interval: Duration = .seconds(1), waiting: @escaping @Sendable (LockHolder) -> Void) {
        self.timeout = timeout
        self.interval = interval
        self.waiting = waiting
    }
}

/// Who runs phoenix, as runs and the lock name them.
public enum RunUser {
    /// The operating-system user (the one behind sudo, when it was).
    public static var name: String { ProcessInfo.processInfo.environment["SUDO_USER"] ?? account ?? "uid \(getuid())" }

    /// The account this process runs as (libpq's default role).
    public static var account: String? { Accounts.userName(getuid()) }
}

extension StateBackend {
    /// Opens a run for the user running phoenix on this host; with `wait`, tries again while another
    /// run holds the lock, until the timeout (then the last `StateError.locked`).
    public func beginRun(command: String, waiting wait: LockWait? = nil) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        let user = RunUser.name
        let host = ProcessInfo.processInfo.hostName
        guard let wait else { return try await beginRun(command: command, user: user, host: host, pid: getpid()) }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: wait.timeout)
        var told: LockHolder?
        while true {
            do {
                return try await beginRun(command: command, user: user, host: host, pid: getpid())
            } catch let StateError.locked(holder) {
                guard clock.now < deadline else { throw StateError.locked(holder) }
                if told?.run != holder.run || told?.pid != holder.pid {
                    wait.waiting(holder)
                    told = holder
                }
                try? await Task.sleep(for: min(wait.interval, deadline - clock.now))
            }
        }
    }

    /// Opens a run for this process.
    public func beginRun(command: String, user: String, host: String) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try await beginRun(command: command, user: user, host: host, pid: getpid())
    }
}
