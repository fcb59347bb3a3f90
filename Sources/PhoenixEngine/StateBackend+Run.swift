import Foundation
import PhoenixCore

extension StateBackend {
    /// Opens a run for the user running phoenix (the one behind sudo, when it was) on this host.
    public func beginRun(command: String) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        let account = Accounts.userName(getuid())
        let user = ProcessInfo.processInfo.environment["SUDO_USER"] ?? account ?? "uid \(getuid())"
        return try beginRun(command: command, user: user, host: ProcessInfo.processInfo.hostName, pid: getpid())
    }

    /// Opens a run for this process.
    public func beginRun(command: String, user: String, host: String) throws(StateError) -> (run: Int64, interrupted: [RunRecord]) {
        try beginRun(command: command, user: user, host: host, pid: getpid())
    }
}
