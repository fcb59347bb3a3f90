import Foundation
import PhoenixTesting
import Testing

@testable import PhoenixEngine

/// Programs run to completion by `ProcessRunner`, real ones (/bin/sh and coreutils): statuses,
/// output, the timeout and what it kills.
@Suite("Running a program to completion")
struct SubprocessTests {
    /// The same run through the engine's (async) way or the tests' (blocking) way.
    enum Way: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case async, blocking
        var testDescription: String { rawValue }

        func run(_ argv: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60) async throws -> CommandResult {
            switch self {
            case .async: return try await ProcessRunner.run(argv, input: input, timeout: timeout)
            case .blocking: return try Self.blocking(argv, input: input, timeout: timeout)
            }
        }

        /// The blocking overload (in an async context the async one would be chosen).
        static func blocking(_ argv: [String], input: [UInt8]?, timeout: TimeInterval) throws -> CommandResult {
            try ProcessRunner.run(argv, input: input, timeout: timeout)
        }
    }

    /// One blocking look at `pid` (in an async context the async overload would be chosen).
    static func waitBlocking(_ pid: pid_t, timeout: TimeInterval) -> Int32? { Spawner.wait(pid, timeout: timeout) }

    typealias Numbered = (index: Int, result: CommandResult)

    @Test("the exit status is the program's own, or 128 + the signal that ended it", arguments: Way.allCases)
    func statuses(_ way: Way) async throws {
        #expect(try await way.run(["/bin/sh", "-c", "exit 0"]).status == 0)
        #expect(try await way.run(["/bin/sh", "-c", "exit 3"]).status == 3)
        #expect(try await way.run(["/bin/sh", "-c", "kill -TERM $$"]).status == 128 + SIGTERM)
        #expect(throws: ProcessRunner.Failure.self) { try ProcessRunner.run(["/nonexistent/phoenix-no-such-program"]) }
    }

    @Test("stdin is fed, and stdout and stderr are kept apart and whole, well past a pipe's buffer", arguments: Way.allCases)
    func output(_ way: Way) async throws {
        let size = 1 << 20
        let result = try await way.run(
            ["/bin/sh", "-c", "cat; head -c \(size) /dev/zero | tr '\\000' a; echo to-stderr >&2"], input: Array("from stdin\n".utf8))
        try #require(result.status == 0, "\(result.excerpt)")
        #expect(result.stdout.hasPrefix("from stdin\n"))
        try #require(result.stdout.utf8.count == "from stdin\n".utf8.count + size)
        #expect(result.stdout.utf8.dropFirst("from stdin\n".utf8.count).allSatisfy { $0 == UInt8(ascii: "a") })
        #expect(result.stderr == "to-stderr\n")
    }

    @Test("many programs at once, each waited for on a thread of its own: each gets its own status and output")
    func concurrent() async throws {
        let results = try await withThrowingTaskGroup(of: Numbered.self) { group in
            for index in 0..<24 {
                group.addTask { (index, try await ProcessRunner.run(["/bin/sh", "-c", "echo \"run $0\"; exit $1", "\(index)", "\(index % 7)"])) }
            }
            var results: [Int: CommandResult] = [:]
            for try await (index, result) in group { results[index] = result }
            return results
        }
        #expect(results.count == 24)
        for (index, result) in results {
            #expect(result.status == Int32(index % 7), "run \(index)")
            #expect(result.stdout == "run \(index)\n")
        }
    }

    @Test(
        "past its timeout the program is killed with what it started (sh -c 'sleep 600; echo x'): status 124, its output so far kept",
        arguments: Way.allCases)
    func timeoutKillsTheGroup(_ way: Way) async throws {
        let directory = try TemporaryDirectory("phoenix-timeout")
        let statFile = directory.file("sh.stat")
        // The shell leaves its own /proc stat line (pid, parent, process group) before it starts sleep.
        // The sleep is long: with the whole suite running, the waiting task may resume seconds after
        // its timeout fired (the cooperative pool is shared with tests that block), and the program
        // must still be running to be killed then.
        let result = try await way.run(["/bin/sh", "-c", "cat /proc/$$/stat > \"$0\"; echo before; sleep 600; echo x", statFile], timeout: 1)
        #expect(result.status == 124)
        #expect(result.stdout == "before\n")
        let shell = try #require(ProcessStat(stat: try String(contentsOfFile: statFile, encoding: .utf8)))
        // The error says it was a timeout, and what the group was doing: the shell waiting for its sleep.
        #expect(result.stderr.hasPrefix("phoenix: no exit after 1 s, killed (its processes then: \(shell.pid) sh S"), "\(result.stderr)")
        #expect(result.stderr.contains(" sleep S"), "\(result.stderr)")
        #expect(shell.group == shell.pid, "the program leads a process group of its own")
        // Its sleep was in that group: nothing of the group is left running (a zombie is dead).
        var left: [ProcessStat] = []
        try waitFor("the program's process group to be gone", detail: { "\(left)" }) {
            left = Self.members(ofGroup: shell.pid)
            return left.isEmpty
        }
    }

    /// The live (not zombie) processes of process group `group`.
    static func members(ofGroup group: pid_t) -> [ProcessStat] {
        ProcessStat.members(of: group).filter { $0.state != "Z" && $0.state != "X" }
    }

    @Test("a child gets stdin, stdout and stderr and nothing else of this process: not a socket opened without close-on-exec (SwiftNIO's)")
    func noInheritedDescriptors() throws {
        // A socket as SwiftNIO opens them: no SOCK_CLOEXEC. A daemon a sync starts would keep it open.
        let socket = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(socket > 2)
        defer { close(socket) }
        #expect(fcntl(socket, F_GETFD) & FD_CLOEXEC == 0, "the socket would be inherited by an exec")
        let result = try ProcessRunner.run(["/bin/sh", "-c", "ls /proc/$$/fd"])
        let descriptors = result.stdout.split(separator: "\n").compactMap { Int32($0) }
        #expect(!descriptors.isEmpty, "the listing worked: \(result.stdout)\(result.stderr)")
        #expect(!descriptors.contains(socket), "descriptor \(socket) went with the child: \(descriptors)")
        #expect(descriptors.allSatisfy { $0 <= 2 || $0 >= 10 }, "only stdin, stdout, stderr (and the shell's own): \(descriptors)")
    }

    @Test("a wait sleeps until the child ends: nil while it runs, then its status")
    func waitForAChild() async throws {
        let directory = try TemporaryDirectory("phoenix-wait")
        let pid = try Spawner.spawn(["/bin/sh", "-c", "exit 7"], stdout: directory.file("out"), stderr: directory.file("err"))
        #expect(await Spawner.wait(pid, timeout: 30) == 7)
        // A long sleep: under the whole suite the task can resume more than 30 s after the spawn (the
        // cooperative pool starved by tests that block), and a `sleep 30` had by then ended by
        // itself, exit 0, before the kill reached it (seen: "kill returned 0, the wait 0").
        let sleeper = try Spawner.spawn(["/bin/sleep", "600"], stdout: directory.file("out"), stderr: directory.file("err"), ownGroup: true)
        #expect(Self.waitBlocking(sleeper, timeout: 0) == nil)
        #expect(await Spawner.wait(sleeper, timeout: 0.2) == nil)
        #expect(ProcessStat(pid: sleeper)?.group == sleeper)
        let killed = kill(sleeper, SIGKILL)
        let started = Date()
        let status = await Spawner.wait(sleeper, timeout: 30)
        // Say what came back, and when, should it fail again.
        #expect(
            status == 128 + SIGKILL,
            "kill returned \(killed), the wait \(String(describing: status)) after \(Date().timeIntervalSince(started)) s; \(String(describing: ProcessStat(pid: sleeper)))"
        )
    }

    @Test("/proc stat lines are read past a command name holding spaces and parentheses")
    func statLine() {
        let stat = ProcessStat(stat: "42 (a (b) c) S 1 40 40 0 -1 4194560")
        #expect(stat?.pid == 42)
        #expect(stat?.command == "a (b) c")
        #expect(stat?.state == "S")
        #expect(stat?.parent == 1)
        #expect(stat?.group == 40)
        #expect(ProcessStat(stat: "garbage") == nil)
    }
}
