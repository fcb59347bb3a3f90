import Foundation
import PhoenixCore

extension StateBackend {
    /// Opens a run for the user running phoenix (the one behind sudo, when it was) on this host.
    public func beginRun(command: String) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        let account = Accounts.userName(getuid())
        let user = ProcessInfo.processInfo.environment["SUDO_USER"] ?? account ?? "uid \(getuid())"
        return try await beginRun(command: command, user: user, host: ProcessInfo.processInfo.hostName, pid: getpid())
    }

    /// Opens a run for this process.
    public func beginRun(command: String, user: String, host: String) async throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try await beginRun(command: command, user: user, host: host, pid: getpid())
    }
}
