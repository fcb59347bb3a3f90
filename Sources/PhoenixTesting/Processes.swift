import Foundation
import PhoenixEngine

#if canImport(Glibc)
    import Glibc
#endif

public typealias CommandResult = PhoenixEngine.CommandResult

public enum Command {
    /// Runs `executable` with `arguments`, killing it after `timeout` seconds.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try ProcessRunner.run([executable] + arguments, timeout: timeout)
    }
}

/// A long-running server started by a test, stopped by its own pid.
public final class RunningProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logFile: String
    private var exitStatus: Int32?

    public init(_ executable: String, _ arguments: [String], logFile: String) throws {
        self.logFile = logFile
        pid = try Spawner.spawn([executable] + arguments, stdout: logFile, stderr: logFile)
    }

    public var isRunning: Bool {
        if exitStatus != nil { return false }
        exitStatus = Spawner.wait(pid, timeout: 0)
        return exitStatus == nil
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// SIGTERM, then SIGKILL after three seconds.
    public func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        exitStatus = Spawner.wait(pid, timeout: 3)
        if exitStatus == nil {
            kill(pid, SIGKILL)
            exitStatus = Spawner.wait(pid, timeout: 3) ?? -1
        }
    }

    deinit { stop() }
}

/// Polls `condition` until it holds or `timeout` passes.
public func waitUntil(timeout: TimeInterval = 10, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
