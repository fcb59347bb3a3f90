import Foundation
import PhoenixCore

/// A machine in memory, for the fast tests: a file system of files with contents, owner, group and
/// mode, and commands answered by the test's script (every command recorded, argv as given). It can
/// be made unreachable. It counts one round trip per call, as a remote machine makes them.
public final class FakeMachine: Machine {
    public struct State: Sendable {
        public var files: [String: FileFacts] = [:]
        /// Every command run, in order.
        public var commands: [[String]] = []
        public var unreachable = false
        public var calls = 0
        public var writes = 0
    }

    public let name: String
    public let world: Guarded<State>
    /// Answers a command (exit 127, "not found", unless the script knows it).
    let script: @Sendable ([String]) -> CommandResult?

    public init(name: String, files: [String: FileFacts] = [:], script: @escaping @Sendable ([String]) -> CommandResult? = { _ in nil }) {
        self.name = name
        world = Guarded(State(files: files))
        self.script = script
    }

    // MARK: What tests do to it

    public var files: [String: FileFacts] { world.value.files }
    public var commands: [[String]] { world.value.commands }
    public var writes: Int { world.value.writes }
    public func file(_ path: String) -> FileFacts? { world.value.files[path] }
    /// Puts a file there behind phoenix's back (nil removes it).
    public func place(_ path: String, _ facts: FileFacts?) { world.withLock { $0.files[path] = facts } }
    public func setUnreachable(_ unreachable: Bool) { world.withLock { $0.unreachable = unreachable } }

    // MARK: The port

    private func call(_ operation: String) throws(MachineError) {
        let unreachable = world.withLock { state in
            state.calls += 1
            return state.unreachable
        }
        if unreachable { throw MachineError(machine: name, operation: operation, reason: "connection refused") }
    }

    public func read(_ path: String) async throws(MachineError) -> String? {
        try call("read \(path)")
        return world.value.files[path]?.contents
    }

    public func read(all paths: [String]) async throws(MachineError) -> [String: String?] {
        guard !paths.isEmpty else { return [:] }
        try call("read \(paths.count) files")
        let files = world.value.files
        return Dictionary(uniqueKeysWithValues: paths.map { ($0, files[$0]?.contents) })
    }

    public func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        guard !paths.isEmpty else { return [:] }
        try call("inspect \(paths.count) files")
        let files = world.value.files
        return Dictionary(uniqueKeysWithValues: paths.map { ($0, files[$0]) })
    }

    public func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError) {
        try call("chown \(path)")
        try world.withLock { state throws(MachineError) in
            guard var facts = state.files[path] else { throw MachineError(machine: name, operation: "chown \(path)", reason: "no such file") }
            facts.owner = owner
            facts.group = group
            facts.mode = mode
            state.files[path] = facts
        }
    }

    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        try call("write \(path)")
        world.withLock { state in
            state.files[path] = FileFacts(contents: contents, owner: "root", group: "root", mode: mode.count == 3 ? "0" + mode : mode)
            state.writes += 1
        }
    }

    public func rename(_ from: String, to: String) async throws(MachineError) {
        try call("rename \(from)")
        try world.withLock { state throws(MachineError) in
            guard let facts = state.files.removeValue(forKey: from) else {
                throw MachineError(machine: name, operation: "rename \(from) to \(to)", reason: "no such file")
            }
            state.files[to] = facts
            state.writes += 1
        }
    }

    public func remove(_ path: String) async throws(MachineError) {
        try call("remove \(path)")
        world.withLock { state in
            if state.files.removeValue(forKey: path) != nil { state.writes += 1 }
        }
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        try call("run \(argv.first ?? "")")
        world.withLock { $0.commands.append(argv) }
        return script(argv) ?? CommandResult(status: 127, stdout: "", stderr: "\(argv.first ?? ""): command not found")
    }

    public func commandPath(_ path: String) -> String { path }
}
