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
            struct Document: Encodable {
                let version = 1
                let files: [String]
                let notes: [String]
            }
            FileHandle.standardOutput.write(Data(JSONOutput.encode(Document(files: output.files.map(\.renderPath), notes: output.notes)).utf8))
        } else {
            let listing = output.files.map { "\(out)/\($0.renderPath)\n" }.joined()
            FileHandle.standardOutput.write(Data((listing + "\(output.files.count) files written\n").utf8))
        }
    }
}

/// Writes rendered files: each to a temporary sibling, then renamed into place, with its mode.
enum FileWriter {
    struct Failure: Error, CustomStringConvertible {
        let path: String
        let reason: String
        var description: String { "cannot write \(path): \(reason)" }
    }

    static func write(_ files: [RenderedFile], under root: String) throws {
        let manager = FileManager.default
        for file in files {
            let path = "\(root)/\(file.renderPath)"
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            do {
                try manager.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let temporary = "\(path).phoenix-tmp"
                guard manager.createFile(atPath: temporary, contents: Data(file.contents.utf8), attributes: [.posixPermissions: Int(file.mode, radix: 8) ?? 0o644])
                else { throw Failure(path: path, reason: "the file could not be created") }
                if rename(temporary, path) != 0 { throw Failure(path: path, reason: String(cString: strerror(errno))) }
            } catch let failure as Failure {
                throw failure
            } catch {
                throw Failure(path: path, reason: error.localizedDescription)
            }
        }
    }
}
