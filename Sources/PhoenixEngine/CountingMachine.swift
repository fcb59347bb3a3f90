import Foundation
import PhoenixCore
import Synchronization

/// Counts what phoenix asks of its machines, for `--stats` and the benchmark: every call is one
/// round trip on a remote machine (one ssh or pct invocation).
public final class MachineStats: Sendable {
    private let counts = Mutex<[String: Int]>([:])

    public init() {}

    func count(_ operation: String) { counts.withLock { $0[operation, default: 0] += 1 } }

    public subscript(operation: String) -> Int { counts.withLock { $0[operation] ?? 0 } }

    /// Every call: reads, writes, renames, removals and commands.
    public var roundTrips: Int { counts.withLock { $0.values.reduce(0, +) } }
    /// Calls that change a file: writes, renames, removals.
    public var mutations: Int { self["write"] + self["rename"] + self["remove"] }
}

/// A delay added to every machine and API call, for the apply benchmark only: honoured when
/// `PHOENIX_TEST_LATENCY_MS` is set, zero otherwise.
public enum InjectedLatency {
    public static func fromEnvironment() -> TimeInterval {
        guard let text = ProcessInfo.processInfo.environment["PHOENIX_TEST_LATENCY_MS"], let milliseconds = Double(text), milliseconds > 0 else {
            return 0
        }
        return milliseconds / 1000
    }
}

/// A machine that counts the calls made to it (and, for the benchmark, delays each).
public struct CountingMachine: Machine {
    let base: any Machine
    let stats: MachineStats
    let latency: TimeInterval

    public init(_ base: any Machine, stats: MachineStats, latency: TimeInterval = InjectedLatency.fromEnvironment()) {
        self.base = base
        self.stats = stats
        self.latency = latency
    }

    private func delay() async { if latency > 0 { try? await Task.sleep(nanoseconds: UInt64(latency * 1e9)) } }

    public var name: String { base.name }
    public func commandPath(_ path: String) -> String { base.commandPath(path) }
    public func rsyncTarget(_ path: String) -> (options: [String], destination: String)? { base.rsyncTarget(path) }

    public func read(_ path: String) async throws(MachineError) -> String? {
        await delay()
        stats.count("read")
        return try await base.read(path)
    }

    public func read(all paths: [String]) async throws(MachineError) -> [String: String?] {
        guard !paths.isEmpty else { return [:] }
        await delay()
        stats.count("read")
        return try await base.read(all: paths)
    }

    public func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        guard !paths.isEmpty else { return [:] }
        await delay()
        stats.count("read")
        return try await base.inspect(all: paths)
    }

    public func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError) {
        await delay()
        stats.count("command")  // chown and chmod: two commands on a remote machine
        stats.count("command")
        try await base.setOwnership(path, owner: owner, group: group, mode: mode)
    }

    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        await delay()
        stats.count("write")
        try await base.write(path, contents, mode: mode)
    }

    public func rename(_ from: String, to: String) async throws(MachineError) {
        await delay()
        stats.count("rename")
        try await base.rename(from, to: to)
    }

    public func remove(_ path: String) async throws(MachineError) {
        await delay()
        stats.count("remove")
        try await base.remove(path)
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        await delay()
        stats.count("command")
        return try await base.run(argv, timeout: timeout)
    }
}
