import Foundation
import PhoenixCore
import Yams

/// The Step-CA root in the host's trust store: `openssl x509` on the staged copy, then
/// `update-ca-certificates`; verified by reading the installed file back.
struct TrustDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        for file in staged {
            guard file.resource.contents.contains("-----BEGIN CERTIFICATE-----") else {
                throw UnitFailure(check: "the CA root at \(context.estate.settings.trustSource)", output: "it is not a PEM certificate")
            }
            try await run(context.commands.test, config: context.machine.commandPath(file.path), check: "openssl x509 on the staged CA root", in: context)
        }
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {
        try await activateWithCommands(activation, in: context)
    }

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {
        for resource in live {
            let installed: String?
            do { installed = try await context.machine.read(resource.path) } catch {
                throw UnitFailure(check: "reading \(resource.path) back", output: error.description)
            }
            if installed != resource.contents { throw UnitFailure(check: "reading \(resource.path) back", output: "it differs from what was installed") }
        }
    }
}

/// The stack files, mirrored to the host's stacks folder with rsync: only the changed files are
/// sent (each lands atomically: rsync writes a temporary and renames it), modes never group- or
/// world-writable, and only files phoenix installed are ever deleted. Verified with a dry-run rsync
/// that must find nothing left to send.
///
/// Files are compared by their contents alone (`--checksum`), never by their times, and times are
/// not copied (`--no-times`): a checkout's modification times say when it was checked out, not
/// when a file changed, so a fresh checkout of the same commit has nothing to send. A file left as
/// it was keeps its installed time (nothing written, nothing touched); a file written gets the time
/// it was installed, as every other file phoenix installs does, so tools that go by times (a backup
/// that compares size and time) see every change and nothing else.
struct StackFilesDriver: UnitDriver {
    func test(staged: [(resource: Resource, path: String)], in context: UnitContext) async throws(UnitFailure) {
        for file in staged where file.resource.path.hasSuffix(".yml") || file.resource.path.hasSuffix(".yaml") {
            do { _ = try Yams.compose(yaml: file.resource.contents) } catch {
                // Only the position and the problem: Yams quotes the offending line, which may hold a secret.
                let problem = "\(error)".split(separator: "\n").first.map(String.init) ?? "not valid YAML"
                throw UnitFailure(check: "YAML check of \(file.resource.origin)", output: problem)
            }
        }
    }

    func activate(_ activation: Activation, in context: UnitContext) async throws(UnitFailure) {}

    func verify(live: [Resource], previous: [String: String?], in context: UnitContext) async throws(UnitFailure) {}

    /// `rsync` from `source` (the stacks directory) of the given stack-relative paths.
    func mirror(_ relativePaths: [String], from source: String, in context: UnitContext, dryRun: Bool) async throws(UnitFailure) -> String {
        guard !relativePaths.isEmpty else { return "" }
        let destination = context.estate.settings.stacksPath
        guard let target = context.machine.rsyncTarget(destination) else {
            throw UnitFailure(check: "rsync to \(context.machine.name)", output: "this machine cannot be reached by rsync")
        }
        let list = NSTemporaryDirectory() + "phoenix-files-\(getpid())-\(UUID().uuidString)"
        guard
            FileManager.default.createFile(
                atPath: list, contents: Data((relativePaths.joined(separator: "\n") + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw UnitFailure(check: "rsync", output: "cannot write its file list") }
        defer { try? FileManager.default.removeItem(atPath: list) }
        if target.options.isEmpty { try? FileManager.default.createDirectory(atPath: target.destination, withIntermediateDirectories: true) }
        let argv =
            ["rsync", "--archive", "--no-times", "--checksum", "--itemize-changes", "--chmod=D0755,Fgo-w", "--files-from=\(list)"]
            + (dryRun ? ["--dry-run"] : [])
            + target.options + ["--", source.hasSuffix("/") ? source : source + "/", target.destination + "/"]
        let result: CommandResult
        do { result = try await ProcessRunner.run(argv, timeout: context.timeouts.command) } catch {
            throw UnitFailure(check: "rsync", output: error.description)
        }
        guard result.status == 0 else { throw UnitFailure(check: "rsync (exit \(result.status))", output: result.excerpt) }
        return Self.contentsToSend(itemized: result.stdout).joined(separator: "\n")
    }

    /// The files whose contents rsync's `--itemize-changes` says it sends (`<f…`, `>f…`): a line
    /// starting with `.` changes attributes only (a mode, an owner) of a file whose contents are
    /// already as they should be, and a directory line is about the directory.
    static func contentsToSend(itemized: String) -> [String] {
        itemized.split(separator: "\n").filter { $0.dropFirst().first == "f" && $0.first != "." }.map(String.init)
    }
}
