import Foundation
import PhoenixCore

/// A place phoenix installs files and runs commands: the Proxmox host or one guest. Commands are
/// argv arrays; a path is always absolute as the machine sees it.
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

/// This machine, optionally under a root folder that stands in for `/` (tests, the lab, and guests
/// kept as local folders). A path already inside the root is taken as it is, so configuration can
/// name files inside the root that other programs read (dnsmasq's `addn-hosts`).
public struct LocalMachine: Machine {
    public let name: String
    public let root: String?

    public init(name: String, root: String? = nil) {
        self.name = name
        self.root = root.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    public func commandPath(_ path: String) -> String {
        guard let root, !path.hasPrefix(root + "/") else { return path }
        return root + path
    }

    public func rsyncTarget(_ path: String) -> (options: [String], destination: String)? { ([], commandPath(path)) }

    private func failure(_ operation: String, _ path: String, _ reason: String? = nil) -> MachineError {
        MachineError(machine: name, operation: "\(operation) \(path)", reason: reason ?? String(cString: strerror(errno)))
    }

    public func read(_ path: String) async throws(MachineError) -> String? {
        let local = commandPath(path)
        guard let data = FileManager.default.contents(atPath: local) else {
            if FileManager.default.fileExists(atPath: local) { throw failure("read", path, "permission denied or not a regular file") }
            return nil
        }
        return String(decoding: data, as: UTF8.self)
    }

    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        let local = commandPath(path)
        let permissions = mode_t(Int(mode, radix: 8) ?? 0o644)
        try makeParents(of: local, reportedAs: path)
        // The same write as render's: an exclusive create (an old file of that name is replaced),
        // exactly this mode, and on disk before it is renamed into place.
        do throws(StagedFiles.Failure) {
            try StagedFiles.writeNew(local, contents, mode: permissions, durable: true, reportedAs: path)
        } catch {
            throw failure("write", path, error.reason)
        }
    }

    private func makeParents(of local: String, reportedAs path: String) throws(MachineError) {
        let directory = (local as NSString).deletingLastPathComponent
        var status = stat()
        if stat(directory, &status) == 0 { return }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw failure("create the directory of", path, "\(error.localizedDescription)")
        }
    }

    public func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        var facts: [String: FileFacts?] = [:]
        for path in paths {
            let local = commandPath(path)
            var status = stat()
            guard stat(local, &status) == 0 else {
                guard errno == ENOENT || errno == ENOTDIR else { throw failure("inspect", path) }
                facts[path] = .some(nil)
                continue
            }
            guard let contents = try await read(path) else {
                facts[path] = .some(nil)
                continue
            }
            facts[path] = FileFacts(
                contents: contents, owner: Self.userName(status.st_uid), group: Self.groupName(status.st_gid),
                mode: String(format: "%04o", Int(status.st_mode) & 0o7777))
        }
        return facts
    }

    public func setOwnership(_ path: String, owner: String, group: String, mode: String) async throws(MachineError) {
        let local = commandPath(path)
        guard let user = getpwnam(owner) else { throw failure("chown", path, "no user \(owner) on \(name)") }
        guard let entry = getgrnam(group) else { throw failure("chown", path, "no group \(group) on \(name)") }
        guard chown(local, user.pointee.pw_uid, entry.pointee.gr_gid) == 0 else { throw failure("chown", path) }
        guard let bits = mode_t(mode, radix: 8), chmod(local, bits) == 0 else { throw failure("chmod", path) }
    }

    static func userName(_ uid: uid_t) -> String {
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return String(uid) }
        return String(cString: name)
    }

    static func groupName(_ gid: gid_t) -> String {
        guard let entry = getgrgid(gid), let name = entry.pointee.gr_name else { return String(gid) }
        return String(cString: name)
    }

    public func rename(_ from: String, to: String) async throws(MachineError) {
        guard POSIX.rename(commandPath(from), commandPath(to)) == 0 else { throw failure("rename \(from) to", to) }
    }

    public func remove(_ path: String) async throws(MachineError) {
        guard unlink(commandPath(path)) == 0 || errno == ENOENT else { throw failure("remove", path) }
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        do {
            return try await ProcessRunner.run(argv, timeout: timeout)
        } catch {
            throw MachineError(machine: name, operation: "run \(argv.first ?? "")", reason: error.reason)
        }
    }
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
