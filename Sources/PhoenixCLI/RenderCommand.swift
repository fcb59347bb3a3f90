import ArgumentParser
import Foundation
import PhoenixCore

/// `phoenix render STAGE... --out DIR`: write what each stage would install.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Write the artefacts of stages under a directory, exactly as they would be installed.",
        discussion: """
            Host paths go under DIR/host/..., guest paths under DIR/guests/<id>/...; the certificate requests go to \
            DIR/certs/requests.json. Stages: \(RenderStage.allCases.map(\.rawValue).joined(separator: ", ")), or all. \
            Nothing is written when the configuration is invalid.
            """
    )

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "The directory to write into") var out: String
    @Option(name: .long, help: "The Proxmox node name for host.fw when the configuration sets none (default: this host's name)")
    var node: String?
    @Option(name: .long, help: "text or json") var format: OutputFormat = .text
    @Argument(help: "Stages to render, or all") var stages: [String]

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name at least one stage, or all") }
        for stage in stages where stage != "all" && RenderStage(rawValue: stage) == nil {
            throw ValidationError("unknown stage \"\(stage)\"; render knows \(RenderStage.allCases.map(\.rawValue).joined(separator: ", ")) and all")
        }
    }

    func run() throws {
        let estate = try global.loadValidEstate()
        let selected = stages.contains("all") ? RenderStage.allCases : stages.compactMap(RenderStage.init(rawValue:))
        let nodeName = node ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let output = EstateRenderer(estate: estate, defaultNodeName: nodeName).render(selected)
        do {
            try FileWriter.write(output.files, under: out)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        for note in output.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        if format == .json {
            let document = JSONValue.object([
                ("version", .number(1)), ("files", .array(output.files.map { .string($0.renderPath) })), ("notes", .array(output.notes.map(JSONValue.string))),
            ])
            FileHandle.standardOutput.write(Data(JSONOutput.string(document).utf8))
        } else {
            let listing = output.files.map { "\(out)/\($0.renderPath)\n" }.joined()
            FileHandle.standardOutput.write(Data((listing + "\(output.files.count) files written\n").utf8))
        }
    }
}

/// Writes rendered files in two phases: every file to a temporary sibling first, then all renamed into
/// place. A failure in the first phase removes the temporaries and the directories it created, leaving
/// the output directory as it was.
enum FileWriter {
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot write \(path): \(reason)" }
    }

    static func write(_ files: [RenderedFile], under root: String) throws {
        var staged: [(temporary: String, final: String)] = []
        var createdDirectories: [String] = []
        var knownDirectories = Set<String>()
        do {
            for file in files {
                let path = "\(root)/\(file.renderPath)"
                try makeParents(of: path, known: &knownDirectories, created: &createdDirectories)
                let temporary = "\(path).phoenix-tmp"
                try writeNew(temporary, file.contents, mode: mode_t(Int(file.mode, radix: 8) ?? 0o644), reportedAs: path)
                staged.append((temporary, path))
            }
        } catch {
            for entry in staged { unlink(entry.temporary) }
            for directory in createdDirectories.reversed() { rmdir(directory) }
            throw error
        }
        for entry in staged where rename(entry.temporary, entry.final) != 0 {
            throw Failure(path: entry.final, reason: String(cString: strerror(errno)))
        }
    }

    /// Creates the missing parent directories of `path`, remembering which exist and which it made.
    private static func makeParents(of path: String, known: inout Set<String>, created: inout [String]) throws {
        var missing: [String] = []
        var directory = (path as NSString).deletingLastPathComponent
        while !directory.isEmpty, directory != "/", !known.contains(directory) {
            var status = stat()
            if stat(directory, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else { throw Failure(path: path, reason: "\(directory) is not a directory") }
                break
            }
            missing.append(directory)
            directory = (directory as NSString).deletingLastPathComponent
        }
        known.insert(directory)
        for directory in missing.reversed() {
            guard mkdir(directory, 0o755) == 0 else { throw Failure(path: path, reason: "cannot create \(directory): \(String(cString: strerror(errno)))") }
            created.append(directory)
            known.insert(directory)
        }
    }

    /// Writes a file (truncating a stale temporary, never following a symbolic link) with exactly `mode`.
    private static func writeNew(_ path: String, _ contents: String, mode: mode_t, reportedAs target: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw Failure(path: target, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        guard fchmod(descriptor, mode) == 0 else { throw Failure(path: target, reason: String(cString: strerror(errno))) }
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + written, $0.count - written) }
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { throw Failure(path: target, reason: String(cString: strerror(errno))) }
            written += result
        }
    }
}
