import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The outcome of a program run to completion.
public struct CommandResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Spawns programs with `posix_spawn` and an argv array (never a shell string), output to files.
enum Spawner {
    static func spawn(_ executable: String, _ arguments: [String], stdout: String, stderr: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | (stderr == stdout ? O_APPEND : O_TRUNC), 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        // Test threads (libdispatch workers) block most signals; a child inherits that mask, and a
        // server that cannot see SIGHUP or SIGTERM cannot be reloaded or stopped. Start it clean.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGHUP, SIGTERM, SIGINT, SIGPIPE, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        return pid
    }

    /// Waits for `pid`; nil when it is still running after `timeout` seconds.
    static func wait(_ pid: pid_t, timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let signalled = status & 0x7F
                return signalled == 0 ? (status >> 8) & 0xFF : 128 + signalled
            }
            if result < 0 { return -1 }
            if Date() >= deadline { return nil }
            usleep(5_000)
        }
    }
}

public enum Command {
    /// Runs `executable` with `arguments`, killing it after `timeout` seconds.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        let directory = try TemporaryDirectory("phoenix-cmd")
        let out = directory.file("stdout")
        let err = directory.file("stderr")
        let pid = try Spawner.spawn(executable, arguments, stdout: out, stderr: err)
        var status = Spawner.wait(pid, timeout: timeout)
        if status == nil {
            kill(pid, SIGKILL)
            status = Spawner.wait(pid, timeout: 5) ?? -1
        }
        return CommandResult(
            status: status ?? -1,
            stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

/// A long-running server started by a test, stopped by its own pid.
public final class RunningProcess: @unchecked Sendable {
    public let pid: pid_t
    public let logFile: String
    private var exitStatus: Int32?

    public init(_ executable: String, _ arguments: [String], logFile: String) throws {
        self.logFile = logFile
        pid = try Spawner.spawn(executable, arguments, stdout: logFile, stderr: logFile)
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
