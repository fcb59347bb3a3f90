import Foundation
import PhoenixCore
import PhoenixEngine
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

public typealias CommandResult = PhoenixCore.CommandResult

public enum Command {
    /// Runs `executable` with `arguments`, killing it after `timeout` seconds.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try ProcessRunner.run([executable] + arguments, timeout: timeout)
    }
}

/// A long-running server started by a test, stopped by its own pid.
public final class RunningProcess: Sendable {
    public let pid: pid_t
    public let logFile: String
    /// Its exit status once it has been reaped. Held while it is reaped, so only one caller reaps it.
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ executable: String, _ arguments: [String], logFile: String) throws {
        self.logFile = logFile
        pid = try Spawner.spawn([executable] + arguments, stdout: logFile, stderr: logFile)
    }

    public var isRunning: Bool { status == nil }

    /// Its exit status (128 + the signal that ended it), once it has ended; nil while it runs.
    public var status: Int32? {
        exitStatus.withLock { status in
            if status == nil { status = Spawner.wait(pid, timeout: 0) }
            return status
        }
    }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { kill(pid, signal) }

    /// SIGTERM, then SIGKILL after three seconds.
    public func stop() {
        exitStatus.withLock { status in
            if status == nil { status = Spawner.wait(pid, timeout: 0) }
            guard status == nil else { return }
            kill(pid, SIGTERM)
            status = Spawner.wait(pid, timeout: 3)
            if status == nil {
                kill(pid, SIGKILL)
                status = Spawner.wait(pid, timeout: 3) ?? -1
            }
        }
    }

    deinit { stop() }
}

/// Polls `condition` every `interval` seconds until it holds or `timeout` passes; true when it held.
public func waitUntil(timeout: TimeInterval = 10, interval: TimeInterval = 0.05, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return try condition()
}

/// `waitUntil` for async tests: sleeps between polls without holding a thread of the cooperative
/// pool, which the suites running beside it need (a blocking wait there starves them).
public func eventually(timeout: TimeInterval = 10, interval: TimeInterval = 0.05, _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .seconds(interval))
    }
    return try condition()
}

/// A condition a test waited for that did not come in time.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public let description: String
}

/// Polls `condition` until it holds; when `timeout` passes first, throws saying what was awaited,
/// for how long, and `detail` (what was seen last).
public func waitFor(
    _ what: String, timeout: TimeInterval = 10, interval: TimeInterval = 0.05, detail: () -> String = { "" }, _ condition: () throws -> Bool
) throws {
    guard try waitUntil(timeout: timeout, interval: interval, condition) else {
        let seen = detail()
        throw WaitTimedOut(description: "timed out after \(timeout) s waiting for \(what)" + (seen.isEmpty ? "" : ": \(seen)"))
    }
}

/// Processes of this machine, found by their command line.
public enum Processes {
    /// The pids of the running processes whose command line (arguments joined by spaces) contains `text`.
    public static func matching(_ text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), pid != getpid(), let raw = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let line = String(decoding: raw.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            return line.contains(text) ? pid : nil
        }
    }
}
