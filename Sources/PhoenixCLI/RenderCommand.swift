import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine

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
    @Flag(name: .long, help: "Print on stderr how long loading, rendering and writing took.") var stats = false
    @Argument(help: "Stages to render, or all") var stages: [String]

    func validate() throws {
        if stages.isEmpty { throw ValidationError("name at least one stage, or all") }
        for stage in stages where stage != "all" && RenderStage(rawValue: stage) == nil {
            throw ValidationError("unknown stage \"\(stage)\"; render knows \(RenderStage.allCases.map(\.rawValue).joined(separator: ", ")) and all")
        }
    }

    func run() throws {
        let started = Date()
        let estate = try global.loadValidEstate()
        let selected = stages.contains("all") ? RenderStage.allCases : stages.compactMap(RenderStage.init(rawValue:))
        let nodeName = node ?? ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        let rendering = Date()
        let output = EstateRenderer(estate: estate, defaultNodeName: nodeName).render(selected)
        let writing = Date()
        do {
            try FileWriter.write(output.files, under: out)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode.failure
        }
        if stats {
            let line = String(
                format: "stats: load and validate %.3f s, render %.3f s, write %.3f s (%d files)\n", rendering.timeIntervalSince(started),
                writing.timeIntervalSince(rendering), Date().timeIntervalSince(writing), output.files.count)
            FileHandle.standardError.write(Data(line.utf8))
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

/// Writes rendered files under the output directory: all or nothing (StagedFiles).
enum FileWriter {
    static func write(_ files: [RenderedFile], under root: String) throws(StagedFiles.Failure) {
        try StagedFiles.write(
            files.map { StagedFiles.File(path: "\(root)/\($0.renderPath)", contents: $0.contents, mode: mode_t(Int($0.mode, radix: 8) ?? 0o644)) })
    }
}
