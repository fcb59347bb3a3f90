import Foundation

/// A place phoenix installs files and runs commands: the Proxmox host or one guest. Commands are
/// argv arrays; a path is always absolute as the machine sees it. The live adapters are
/// PhoenixEngine's `LocalMachine` and `SSHMachine` and PhoenixProxmox's `PctGuestMachine` and
/// `AgentGuestMachine`; PhoenixTesting's `FakeMachine` holds its files in memory.
public protocol Machine: Sendable {
    /// For messages: "the host", "guest 101".
    var name: String { get }
    /// The file's contents, or nil when it does not exist.
    func read(_ path: String) async throws(MachineError) -> String?
    /// Several files at once: on a remote machine one round trip, however many files.
    func read(all paths: [String]) async throws(MachineError) -> [String: String?]
    /// Several files with their owner and mode: on a remote machine one round trip, however many.
    func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?]
    /// Gives `path` its owner, group and mode (octal text).
    func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError)
    /// Writes `contents` to `path` with `mode` (octal text), creating missing parent directories.
    func write(_ path: String, _ contents: String, mode: String) async throws(MachineError)
    /// Renames atomically within one file system.
    func rename(_ from: String, to: String) async throws(MachineError)
    /// Removes a file; a missing file is not an error.
    func remove(_ path: String) async throws(MachineError)
    func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult
    /// How `path` is named in a command run on this machine (a local root folder prefixes it).
    func commandPath(_ path: String) -> String
    /// How rsync, run here, reaches `path` on this machine: extra options and the destination; nil
    /// when it cannot (a container is reached through its host).
    func rsyncTarget(_ path: String) -> (options: [String], destination: String)?
}

extension Machine {
    public func rsyncTarget(_ path: String) -> (options: [String], destination: String)? { nil }

    public func read(all paths: [String]) async throws(MachineError) -> [String: String?] {
        var contents: [String: String?] = [:]
        for path in paths { contents[path] = .some(try await read(path)) }
        return contents
    }

    public func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        throw MachineError(machine: name, operation: "inspect \(paths.count) files", reason: "this machine cannot report owners and modes")
    }

    public func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError) {
        for argv in [["chown", "--", "\(owner):\(group)", commandPath(path)], ["chmod", "--", mode, commandPath(path)]] {
            let result = try await run(argv, timeout: 30)
            guard result.status == 0 else { throw MachineError(machine: name, operation: "\(argv[0]) \(path)", reason: result.excerpt) }
        }
    }
}

/// A file as a machine holds it: its contents, owner, group and mode (four octal digits).
public struct FileFacts: Sendable, Equatable {
    public var contents: String
    public var owner: String
    public var group: String
    public var mode: String

    public init(contents: String, owner: String, group: String, mode: String) {
        self.contents = contents
        self.owner = owner
        self.group = group
        self.mode = mode
    }
}

/// A failure to reach or change a machine, naming the machine, the operation and the cause.
public struct MachineError: Error, CustomStringConvertible, Equatable {
    public let machine: String
    public let operation: String
    public let reason: String

    public init(machine: String, operation: String, reason: String) {
        self.machine = machine
        self.operation = operation
        self.reason = reason
    }

    public var description: String { "\(machine): \(operation) failed: \(reason)" }
}

/// The host and the guests phoenix converges.
public struct Machines: Sendable {
    public let host: any Machine
    private let guests: @Sendable (Int) -> any Machine

    public init(host: any Machine, guests: @escaping @Sendable (Int) -> any Machine) {
        self.host = host
        self.guests = guests
    }

    public func machine(for target: RenderedFile.Target) -> any Machine {
        switch target {
        case .host, .report: return host
        case let .guest(id): return guests(id)
        }
    }
}
