import Foundation
import PhoenixCore

#if canImport(Glibc)
    import Glibc
#endif

/// Spawns programs with `posix_spawnp` and an argv array, never a shell string.
public enum Spawner {
    /// Starts `argv` with stdin from `stdin` (a file, default /dev/null), output to files and no other
    /// descriptor of this process. The child starts with a clean signal mask: a child of a libdispatch thread would otherwise inherit blocked
    /// signals, and a server that cannot see SIGHUP or SIGTERM cannot be reloaded or stopped.
    /// `ownGroup`: the child leads a process group of its own (its pid is the group's id), so what it
    /// starts in turn (`sh -c 'a; b'`) is signalled with it by `kill(-pid, …)`.
    public static func spawn(_ argv: [String], stdin: String = "/dev/null", stdout: String, stderr: String, ownGroup: Bool = false) throws -> pid_t {
        precondition(!argv.isEmpty, "an empty command")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | (stderr == stdout ? O_APPEND : O_TRUNC), 0o600)
        // Nothing else of this process goes with the child. SwiftNIO opens its sockets without
        // close-on-exec, so a service started here (a daemon that outlives phoenix) would otherwise keep
        // phoenix's connections open: a PostgreSQL session whose lock then outlives a killed phoenix.
        _ = closeFrom?(&actions, 3)
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
        var flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF
        if ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))
        var pid: pid_t = 0
        let status = posix_spawnp(&pid, argv[0], &actions, &attributes, pointers, environ)
        guard status == 0 else { throw POSIXError(POSIXErrorCode(rawValue: status) ?? .EIO) }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34, Debian 12 has 2.36), which
    /// Swift's Glibc module does not declare: found by name once.
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    private static let closeFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
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

    /// Waits for `pid`; nil when it is still running after `timeout` seconds. Where the system gives
    /// a process a descriptor (Linux's pidfd) the thread sleeps on it until the child exits or the
    /// time is up; elsewhere `waitpid` is polled between short sleeps.
    public static func wait(_ pid: pid_t, timeout: TimeInterval) -> Int32? {
        if let status = reap(pid) { return status }
        guard timeout > 0 else { return nil }
        let deadline = ContinuousClock.now + .seconds(timeout)
        // The descriptor can turn readable a moment before the child can be reaped (seen under
        // load): then the polling below finishes the wait, up to the same deadline.
        if ExitDescriptor.sleep(until: deadline, for: pid), let status = reap(pid) { return status }
        var pause: useconds_t = 1_000
        while true {
            if let status = reap(pid) { return status }
            if ContinuousClock.now >= deadline { return nil }
            usleep(pause)
            pause = min(pause * 2, 20_000)
        }
    }

    /// Waits for `pid` without holding a thread of the cooperative pool: with a process descriptor,
    /// the wait above on a thread of its own; without, `waitpid` polled between sleeps of the task.
    public static func wait(_ pid: pid_t, timeout: TimeInterval) async -> Int32? {
        if let status = reap(pid) { return status }
        guard timeout > 0 else { return nil }
        if ExitDescriptor.available { return await onOwnThread { wait(pid, timeout: timeout) } }
        let deadline = ContinuousClock.now + .seconds(timeout)
        var pause: UInt64 = 1_000_000
        while true {
            if let status = reap(pid) { return status }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 20_000_000)
        }
    }

    /// Runs `body`, which blocks, on a thread of its own (never one of the cooperative pool's few, which
    /// the other tasks of the run need meanwhile) and resumes the caller with its result.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: body()) }
            thread.stackSize = 256 << 10
            thread.start()
        }
    }
}

/// A process's descriptor that becomes readable when it exits (Linux 5.3's `pidfd_open`): a wait
/// for a child that sleeps instead of polling, and ends the moment the child does.
enum ExitDescriptor {
    #if os(Linux)
        /// `pidfd_open(2)`, looked up in the C library once (glibc 2.36 has it; Swift's Glibc module
        /// does not declare it): nil where it is missing.
        static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = {
            guard let program = dlopen(nil, RTLD_NOW), let symbol = dlsym(program, "pidfd_open") else { return nil }
            return unsafeBitCast(symbol, to: (@convention(c) (pid_t, UInt32) -> Int32).self)
        }()
    #else
        static let pidfdOpen: (@convention(c) (pid_t, UInt32) -> Int32)? = nil
    #endif

    /// Whether waits can sleep on a descriptor here (the kernel may still refuse one: then they poll).
    static var available: Bool { pidfdOpen != nil }

    /// Sleeps until `pid` (a child not yet reaped) exits or `deadline` passes; false when no
    /// descriptor could be had or watched, and the caller must poll instead.
    static func sleep(until deadline: ContinuousClock.Instant, for pid: pid_t) -> Bool {
        guard let pidfdOpen else { return false }
        let descriptor = pidfdOpen(pid, 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        while true {
            let left = milliseconds(ContinuousClock.now.duration(to: deadline))
            var watched = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&watched, 1, left)
            if ready > 0 || (ready == 0 && left == 0) { return true }
            if ready < 0 && errno != EINTR { return false }
        }
    }

    /// `duration` in whole milliseconds, rounded up (poll's timeout: never shorter than asked).
    static func milliseconds(_ duration: Duration) -> Int32 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        return Int32(clamping: min(seconds, Int64(Int32.max)) * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }
}

/// Runs a program to completion: argv only, a timeout on every call, output captured.
public enum ProcessRunner {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let command: String
        public let reason: String
        public var description: String { "cannot run \(command): \(reason)" }
    }

    /// A started program: its pid (also its process group's id) and the private folder holding its
    /// input and output.
    struct Started {
        let pid: pid_t
        let scratch: String

        /// Kills the program and everything it started that is still in its process group (a shell's
        /// children, a pipeline): nothing of it runs on past its timeout.
        func killGroup() {
            if kill(-pid, SIGKILL) != 0 { _ = kill(pid, SIGKILL) }
        }

        /// The program's result once it has exited with `status`; `killed` (its status 124) says
        /// what its process group was doing when the time ran out, as the last line of stderr.
        func result(_ status: Int32?, killed: String? = nil) -> CommandResult {
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let stderr = (try? String(contentsOfFile: scratch + "/stderr", encoding: .utf8)) ?? ""
            return CommandResult(
                status: status ?? 124,
                stdout: (try? String(contentsOfFile: scratch + "/stdout", encoding: .utf8)) ?? "",
                stderr: killed.map { stderr + (stderr.isEmpty || stderr.hasSuffix("\n") ? "" : "\n") + $0 + "\n" } ?? stderr)
        }

        /// Kills the program's process group after `timeout` seconds without an exit, and says
        /// what each of its processes was doing (a stopped one, one waiting on a pipe …).
        func timedOut(after timeout: TimeInterval) -> String {
            let members = ProcessStat.members(of: pid).map(\.summary)
            killGroup()
            let seconds = timeout == timeout.rounded() ? String(Int(timeout)) : String(timeout)
            return "phoenix: no exit after \(seconds) s, killed"
                + (members.isEmpty ? "" : " (its processes then: \(members.joined(separator: "; ")))")
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
            let pid = try Spawner.spawn(argv, stdin: stdin, stdout: scratch + "/stdout", stderr: scratch + "/stderr", ownGroup: true)
            return Started(pid: pid, scratch: scratch)
        } catch {
            try? FileManager.default.removeItem(atPath: scratch)
            throw Failure(command: argv.first ?? "", reason: "\(error)")
        }
    }

    /// Runs `argv`, feeding `input` on stdin; after `timeout` seconds the program, and whatever it
    /// started in its process group, is killed (status 124).
    public static func run(_ argv: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60) throws(Failure) -> CommandResult {
        let started = try start(argv, input: input)
        let status = Spawner.wait(started.pid, timeout: timeout)
        guard status == nil else { return started.result(status) }
        let killed = started.timedOut(after: timeout)
        _ = Spawner.wait(started.pid, timeout: 5)
        return started.result(nil, killed: killed)
    }

    /// The same, without holding a thread of the cooperative pool while the program runs (the
    /// engine's way).
    public static func run(_ argv: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60) async throws(Failure) -> CommandResult {
        let started = try start(argv, input: input)
        let status = await Spawner.wait(started.pid, timeout: timeout)
        guard status == nil else { return started.result(status) }
        let killed = started.timedOut(after: timeout)
        _ = await Spawner.wait(started.pid, timeout: 5)
        return started.result(nil, killed: killed)
    }
}
