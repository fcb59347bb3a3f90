import Foundation
import PhoenixCore

/// Runs argv on a machine: the seam remote machines are built on (tests record the argv).
public typealias CommandTransport =
    @Sendable (_ argv: [String], _ input: [UInt8]?, _ timeout: TimeInterval) async throws(ProcessRunner.Failure) ->
    CommandResult

public let localTransport: CommandTransport = { argv, input, timeout async throws(ProcessRunner.Failure) in
    try await ProcessRunner.run(argv, input: input, timeout: timeout)
}

/// Fixed helper scripts for file operations on a remote machine. They are constants: paths and modes
/// reach them only as positional arguments (`$1`, `$2`), never spliced into the script.
public enum RemoteScript {
    public static let read = #"if [ -e "$1" ]; then exec cat -- "$1"; else exit 3; fi"#
    public static let write = #"umask 077 && mkdir -p -- "$(dirname -- "$1")" && cat > "$1" && chmod "$2" "$1""#
    public static let absent: Int32 = 3
    /// The firewall's dead-man switch: `$1` marker, `$2` seconds, then the files, `--`, and the reload
    /// argv. Unless the marker is gone by then, every file gets back its `.phoenix-prev` copy (or is
    /// removed when there was none) and the reload runs.
    public static let revert = #"""
        marker=$1; delay=$2; shift 2
        sleep "$delay"
        [ -e "$marker" ] || exit 0
        while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
            if [ -e "$1.phoenix-prev" ]; then mv -f -- "$1.phoenix-prev" "$1"; else rm -f -- "$1"; fi
            shift
        done
        shift
        rm -f -- "$marker"
        [ "$#" -gt 0 ] && exec "$@"
        exit 0
        """#

    /// Every file named as an argument: `<bytes> <path>` then the bytes, or `absent <path>`.
    public static let readAll =
        #"for f do if [ -e "$f" ]; then printf '%s %s\n' "$(wc -c < "$f")" "$f" && cat -- "$f" || exit 1; else printf 'absent %s\n' "$f"; fi; done"#

    /// Like `readAll`, with each file's owner, group and mode: `<bytes> <user>:<group>:<mode> <path>`.
    public static let inspectAll =
        #"for f do if [ -e "$f" ]; then printf '%s %s %s\n' "$(wc -c < "$f")" "$(stat -c '%U:%G:%a' -- "$f")" "$f" && cat -- "$f" || exit 1; else printf 'absent - %s\n' "$f"; fi; done"#

    /// Parses what `inspectAll` printed.
    public static func parseInspectAll(_ output: String, paths: [String]) -> [String: FileFacts?]? {
        var bytes = Array(output.utf8)[...]
        var facts: [String: FileFacts?] = [:]
        while let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
            let header = String(decoding: bytes[bytes.startIndex..<newline], as: UTF8.self)
            bytes = bytes[(newline + 1)...]
            let fields = header.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { return nil }
            if fields[0] == "absent" {
                facts[fields[2]] = .some(nil)
                continue
            }
            let ownership = fields[1].split(separator: ":").map(String.init)
            guard let count = Int(fields[0].trimmingCharacters(in: .whitespaces)), count <= bytes.count, ownership.count == 3,
                let mode = Int(ownership[2], radix: 8)
            else { return nil }
            let contents = String(decoding: bytes.prefix(count), as: UTF8.self)
            facts[fields[2]] = FileFacts(contents: contents, owner: ownership[0], group: ownership[1], mode: String(format: "%04o", mode))
            bytes = bytes.dropFirst(count)
        }
        return paths.allSatisfy { facts[$0] != nil } ? facts : nil
    }

    /// Why a bulk read failed, from its stderr only: its stdout is file contents (keys among them)
    /// and never goes into a message.
    public static func bulkFailure(_ result: CommandResult) -> String {
        let stderr = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        if !stderr.isEmpty { return TextRules.printable(String(stderr.suffix(600)), limit: 600) }
        return "exit \(result.status), output not as expected (\(result.stdout.utf8.count) bytes, not shown: it is file contents)"
    }

    /// Parses what `readAll` printed.
    public static func parseReadAll(_ output: String, paths: [String]) -> [String: String?]? {
        var bytes = Array(output.utf8)[...]
        var contents: [String: String?] = [:]
        while let newline = bytes.firstIndex(of: UInt8(ascii: "\n")) {
            let header = String(decoding: bytes[bytes.startIndex..<newline], as: UTF8.self)
            bytes = bytes[(newline + 1)...]
            guard let space = header.firstIndex(of: " ") else { return nil }
            let path = String(header[header.index(after: space)...])
            if header.hasPrefix("absent ") {
                contents[path] = .some(nil)
                continue
            }
            guard let count = Int(header[..<space].trimmingCharacters(in: .whitespaces)), count <= bytes.count else { return nil }
            contents[path] = .some(String(decoding: bytes.prefix(count), as: UTF8.self))
            bytes = bytes.dropFirst(count)
        }
        return paths.allSatisfy { contents[$0] != nil } ? contents : nil
    }
}

/// A machine reached only by running commands on it (over ssh, through pct, through a guest
/// agent): reading, renaming and removing files are fixed commands with the paths as arguments.
public protocol CommandMachine: Machine {}

extension CommandMachine {
    public func commandPath(_ path: String) -> String { path }

    public func read(_ path: String) async throws(MachineError) -> String? {
        let result = try await run(["sh", "-c", RemoteScript.read, "phoenix-read", path], timeout: 30)
        if result.status == RemoteScript.absent { return nil }
        guard result.status == 0 else { throw MachineError(machine: name, operation: "read \(path)", reason: result.excerpt) }
        return result.stdout
    }

    public func read(all paths: [String]) async throws(MachineError) -> [String: String?] {
        guard !paths.isEmpty else { return [:] }
        let result = try await run(["sh", "-c", RemoteScript.readAll, "phoenix-read"] + paths, timeout: 60)
        guard result.status == 0, let contents = RemoteScript.parseReadAll(result.stdout, paths: paths) else {
            throw MachineError(machine: name, operation: "read \(paths.count) files", reason: RemoteScript.bulkFailure(result))
        }
        return contents
    }

    public func inspect(all paths: [String]) async throws(MachineError) -> [String: FileFacts?] {
        guard !paths.isEmpty else { return [:] }
        let result = try await run(["sh", "-c", RemoteScript.inspectAll, "phoenix-inspect"] + paths, timeout: 60)
        guard result.status == 0, let facts = RemoteScript.parseInspectAll(result.stdout, paths: paths) else {
            throw MachineError(machine: name, operation: "inspect \(paths.count) files", reason: RemoteScript.bulkFailure(result))
        }
        return facts
    }

    public func rename(_ from: String, to: String) async throws(MachineError) {
        let result = try await run(["mv", "-f", "--", from, to], timeout: 30)
        guard result.status == 0 else { throw MachineError(machine: name, operation: "rename \(from) to \(to)", reason: result.excerpt) }
    }

    public func remove(_ path: String) async throws(MachineError) {
        let result = try await run(["rm", "-f", "--", path], timeout: 30)
        guard result.status == 0 else { throw MachineError(machine: name, operation: "remove \(path)", reason: result.excerpt) }
    }
}

/// A Proxmox node reached with the system `ssh` (multiplexed: one connection serves a whole run).
/// ssh hands the remote side one command line, so every argument is single-quoted on the way.
public struct SSHMachine: CommandMachine {
    public let name: String
    public let destination: String
    public let options: [String]
    let transport: CommandTransport

    public init(destination: String, options: [String] = [], transport: @escaping CommandTransport = localTransport) {
        name = "the host \(destination)"
        self.destination = destination
        self.options = options
        self.transport = transport
    }

    /// POSIX single quoting: the remote shell sees each argument exactly as given.
    public static func quote(_ argument: String) -> String {
        "'" + argument.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    func sshArgv(_ remote: [String]) -> [String] {
        ["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/phoenix-ssh-%C", "-o", "ControlPersist=60"]
            + options + [destination, "--"] + remote.map(Self.quote)
    }

    /// ssh exits 255 when the connection itself failed: the only failure worth another try (three
    /// attempts, 0.5 s then 1 s apart). A remote command's own failure is never retried.
    private func call(_ remote: [String], input: [UInt8]? = nil, timeout: TimeInterval, operation: String) async throws(MachineError) -> CommandResult {
        var attempt = 0
        while true {
            let result: CommandResult
            do {
                result = try await transport(sshArgv(remote), input, timeout)
            } catch {
                throw MachineError(machine: name, operation: operation, reason: error.reason)
            }
            attempt += 1
            guard result.status == 255, attempt < 3 else {
                if result.status == 255 { throw MachineError(machine: name, operation: operation, reason: "ssh could not connect: \(result.excerpt)") }
                return result
            }
            try? await Task.sleep(nanoseconds: UInt64(500_000_000 * attempt))
        }
    }

    /// rsync over the same multiplexed ssh; `--protect-args` keeps the remote path one argument.
    /// One word of rsync's `-e` command: rsync splits it at spaces and honours quotes, not backslashes.
    static func rsyncWord(_ word: String) -> String {
        guard word.contains(where: { $0 == " " || $0 == "'" || $0 == "\"" }) else { return word }
        return word.contains("'") ? "\"\(word)\"" : "'\(word)'"
    }

    public func rsyncTarget(_ path: String) -> (options: [String], destination: String)? {
        let ssh = (["ssh", "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPath=/tmp/phoenix-ssh-%C", "-o", "ControlPersist=60"] + options)
            .map(Self.rsyncWord).joined(separator: " ")
        return (["-e", ssh, "--protect-args"], "\(destination):\(path)")
    }

    public func write(_ path: String, _ contents: String, mode: String) async throws(MachineError) {
        let result = try await call(
            ["sh", "-c", RemoteScript.write, "phoenix-write", path, mode], input: Array(contents.utf8), timeout: 60, operation: "write \(path)")
        guard result.status == 0 else { throw MachineError(machine: name, operation: "write \(path)", reason: result.excerpt) }
    }

    public func run(_ argv: [String], timeout: TimeInterval) async throws(MachineError) -> CommandResult {
        try await call(argv, timeout: timeout, operation: "run \(argv.first ?? "")")
    }
}
