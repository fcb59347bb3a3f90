import Foundation
import PhoenixCore

#if canImport(Glibc)
    import Glibc
#endif

/// Spawns programs with `posix_spawnp` and an argv array, never a shell string.
public enum Spawner {
    /// Starts `argv` with stdin from `stdin` (a file, default /dev/null) and output to files. The child
    /// starts with a clean signal mask: a child of a libdispatch thread would otherwise inherit blocked
    /// signals, and a server that cannot see SIGHUP or SIGTERM cannot be reloaded or stopped.
    public static func spawn(_ argv: [String], stdin: String = "/dev/null", stdout: String, stderr: String) throws -> pid_t {
        precondition(!argv.isEmpty, "an empty command")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | (stderr == stdout ? O_APPEND : O_TRUNC), 0o600)
        let pointers: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
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
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, pointers, environ)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        return pid
    }

    /// One look at `pid`: its exit status (128 + the signal that killed it, -1 when it cannot be
    /// waited for), or nil while it runs.
    static func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            let signalled = status & 0x7F
            return signalled == 0 ? (status >> 8) & 0xFF : 128 + signalled
        }
        return result < 0 ? -1 : nil
    }

    /// Waits for `pid`; nil when it is still running after `timeout` seconds.
    public static func wait(_ pid: pid_t, timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: useconds_t = 1_000
        while true {
            if let status = reap(pid) { return status }
            if Date() >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Waits for `pid` without holding a thread: `waitpid` polled between sleeps of the task.
    public static func wait(_ pid: pid_t, timeout: TimeInterval) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var pause: UInt64 = 1_000_000
        while true {
            if let status = reap(pid) { return status }
            if Date() >= deadline { return nil }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }
}

/// Runs a program to completion: argv only, a timeout on every call, output captured.
public enum ProcessRunner {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let command: String
        public let reason: String
        public var description: String { "cannot run \(command): \(reason)" }
    }

    /// A started program: its pid and the private folder holding its input and output.
    struct Started {
        let pid: pid_t
        let scratch: String

        /// The program's result once it has exited with `status` (nil: killed at the timeout).
        func result(_ status: Int32?) -> CommandResult {
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            return CommandResult(
                status: status ?? 124,
                stdout: (try? String(contentsOfFile: scratch + "/stdout", encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? "")
        }
    }

    /// Starts `argv` with `input` on stdin and its output into a private folder.
    static func start(_ argv: [String], input: [UInt8]?) throws(Failure) -> Started {
        let scratch = NSTemporaryDirectory() + "phoenix-run-\(getpid())-\(UUID().uuidString)"
        guard mkdir(scratch, 0o700) == 0 else { throw Failure(command: argv.first ?? "", reason: String(cString: strerror(errno))) }
        var stdin = "/dev/null"
        if let input {
            stdin = scratch + "/stdin"
            guard FileManager.default.createFile(atPath: stdin, contents: Data(input), attributes: [.posixPermissions: 0o600]) else {
                try? FileManager.default.removeItem(atPath: scratch)
                throw Failure(command: argv.first ?? "", reason: "cannot stage its input")
            }
        }
        do {
            return Started(pid: try Spawner.spawn(argv, stdin: stdin, stdout: scratch + "/stdout", stderr: scratch + "/stderr"), scratch: scratch)
        } catch {
            try? FileManager.default.removeItem(atPath: scratch)
            throw Failure(command: argv.first ?? "", reason: "\(error)")
        }
    }

    /// Runs `argv`, feeding `input` on stdin; the program is killed after `timeout` seconds (status 124).
    public static func run(_ argv: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60) throws(Failure) -> CommandResult {
        let started = try start(argv, input: input)
        let status = Spawner.wait(started.pid, timeout: timeout)
        if status == nil {
            kill(started.pid, SIGKILL)
            _ = Spawner.wait(started.pid, timeout: 5)
        }
        return started.result(status)
    }

    /// The same, without holding a thread while the program runs (the engine's way).
    public static func run(_ argv: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60) async throws(Failure) -> CommandResult {
        let started = try start(argv, input: input)
        let status = await Spawner.wait(started.pid, timeout: timeout)
        if status == nil {
            kill(started.pid, SIGKILL)
            _ = await Spawner.wait(started.pid, timeout: 5)
        }
        return started.result(status)
    }
}
