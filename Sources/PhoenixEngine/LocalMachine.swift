import Foundation
import PhoenixCore

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
        guard let uid = Accounts.userID(owner) else { throw failure("chown", path, "no user \(owner) on \(name)") }
        guard let gid = Accounts.groupID(group) else { throw failure("chown", path, "no group \(group) on \(name)") }
        guard chown(local, uid, gid) == 0 else { throw failure("chown", path) }
        guard let bits = mode_t(mode, radix: 8), chmod(local, bits) == 0 else { throw failure("chmod", path) }
    }

    static func userName(_ uid: uid_t) -> String { Accounts.userName(uid) ?? String(uid) }

    static func groupName(_ gid: gid_t) -> String { Accounts.groupName(gid) ?? String(gid) }

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
