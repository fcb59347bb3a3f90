import ArgumentParser
import Foundation
import PhoenixCore
import PhoenixEngine
import PhoenixServices

/// `phoenix graph`: the guest dependency graph and the order a verb walks it, or with
/// `--resources` every resource sync converges and what it depends on.
struct GraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graph",
        abstract: "Show the guest dependency graph and the order a verb walks it, or (--resources) the resource graph sync walks.",
        discussion: """
            Clone edges count for create only; templates are never started; stop walks the start order backwards. \
            Inactive edges (optional targets that are missing or disabled, conditions that do not hold) are shown \
            with the reason they were dropped. With --resources the arguments are stages (default all): every \
            resource of those stages, its kind, where it lives and the resources it needs converged first.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json, mermaid, dot }

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: "text, json, mermaid or dot") var format: Format = .text
    @Option(name: .long, help: "create, start or stop") var verb: GraphVerb = .start
    @Flag(name: .long, help: "The resource graph of sync instead of the guests': the arguments are stages.") var resources = false
    @Option(name: .long, help: "With --resources: how the firewall converges (files or api).") var firewallThrough: FirewallMode = .files
    @Option(name: .long, help: "With --resources: the node name for host.fw when the configuration sets none.") var node: String?
    @Argument(help: "Guest ids to act on (default: all); with --resources, stages (default: all).") var ids: [String] = []

    func run() throws {
        let estate = try global.loadValidEstate()
        let output = try resources ? resourceGraph(estate) : guestGraph(estate)
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// Every resource the registered kinds declare for the stages asked, the files as sync would
    /// install them (the CA root a placeholder for the one the host exports).
    private func resourceGraph(_ estate: Estate) throws -> String {
        var options = KindOptions()
        options[FirewallThroughAPI.self] = firewallThrough == .api
        options[FileGraphInputs.self] = (
            node ?? ProcessInfo.processInfo.hostName, SyncInputs(stackFiles: StackFilesReader.read(global.resolvedStacksDirectory).files, caRoot: "")
        )
        let graph = KindRegistry.standard.graph(estate: estate, stages: try parseStages(ids), options: options)
        switch format {
        case .json: return ResourceGraphPrinter.json(graph)
        case .mermaid: return ResourceGraphPrinter.mermaid(graph)
        case .dot: throw ValidationError("--resources prints text, json or mermaid")
        case .text: return ResourceGraphPrinter.text(graph)
        }
    }

    /// The guests and the order `verb` walks them.
    private func guestGraph(_ estate: Estate) throws -> String {
        let ids = try self.ids.map { text in
            guard let id = Int(text), estate.guest(id) != nil else {
                throw ValidationError("\"\(TextRules.printable(text))\" is not a guest of the configuration")
            }
            return id
        }
        let graph = GuestGraph(estate: estate, verb: verb, targets: ids.isEmpty ? nil : ids)
        switch format {
        case .json: return GraphPrinter.json(graph)
        case .mermaid: return GraphPrinter.mermaid(graph, estate: estate)
        case .dot: return GraphPrinter.dot(graph, estate: estate)
        case .text: return GraphPrinter.text(graph, estate: estate)
        }
    }
}

extension GraphVerb: ExpressibleByArgument {}

enum GraphPrinter {
    static func json(_ graph: GuestGraph) -> String {
        JSONOutput.string(
            .object([
                ("version", .number(1)), ("verb", .string(graph.verb.rawValue)), ("order", .array(graph.order.map { .string(String($0)) })),
                (
                    "edges",
                    .array(
                        graph.edges.map { edge in
                            .object([
                                ("from", .string(String(edge.from))), ("to", .string(String(edge.to))), ("kind", .string(edge.kind.rawValue)),
                                ("active", .bool(edge.active)), ("reason", .string(edge.reason)),
                            ])
                        })
                ),
            ]))
    }

    static func text(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "\(graph.verb.rawValue) order (\(graph.order.count) guests):\n"
        for (index, id) in graph.order.enumerated() {
            out += "  \(index + 1). \(id) \(estate.guest(id)?.name ?? "")\n"
        }
        out += "edges (from needs to):\n"
        for edge in graph.edges {
            out += "  \(edge.from) -> \(edge.to) [\(edge.kind.rawValue)] \(edge.active ? "active" : "dropped"): \(edge.reason)\n"
        }
        return out
    }

    static func mermaid(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "graph TD\n"
        for guest in estate.guests {
            out += "  g\(guest.id)[\"\(guest.id) \(guest.name.filter { $0 != "\"" })\(guest.isTemplate ? " (template)" : "")\"]\n"
        }
        for edge in graph.edges where estate.guest(edge.to) != nil {
            let arrow = edge.active ? "-->" : "-.->"
            let label = edge.active ? edge.kind.rawValue : "dropped: \(edge.reason)"
            out += "  g\(edge.from) \(arrow)|\"\(label.filter { $0 != "\"" })\"| g\(edge.to)\n"
        }
        return out
    }

    static func dot(_ graph: GuestGraph, estate: Estate) -> String {
        var out = "digraph phoenix {\n  rankdir=LR;\n"
        for guest in estate.guests {
            out += "  \"\(guest.id)\" [label=\"\(guest.id) \(guest.name.filter { $0 != "\"" && $0 != "\\" })\"\(guest.isTemplate ? ", shape=box" : "")];\n"
        }
        for edge in graph.edges where estate.guest(edge.to) != nil {
            let style = edge.active ? "solid" : "dashed"
            out += "  \"\(edge.from)\" -> \"\(edge.to)\" [label=\"\(edge.kind.rawValue)\", style=\(style), tooltip=\"\(edge.reason.filter { $0 != "\"" })\"];\n"
        }
        return out + "}\n"
    }
}

enum ResourceGraphPrinter {
    static func json(_ graph: ResourceGraph) -> String {
        JSONOutput.string(
            .object([
                ("version", .number(1)),
                (
                    "resources",
                    .array(
                        graph.nodes.map { node in
                            .object([
                                ("id", .string(node.id)), ("kind", .string(node.kind)), ("stage", .string(node.stage.rawValue)),
                                ("target", .string(node.targetName)), ("depends_on", .array(node.dependsOn.map(JSONValue.string))),
                            ])
                        })
                ),
            ]))
    }

    static func text(_ graph: ResourceGraph) -> String {
        var out = "\(graph.nodes.count) resources, in the order sync may converge them:\n"
        for id in graph.order {
            let node = graph.node(id)!
            out += "  \(node.id) [\(node.kind), \(node.stage.rawValue), \(node.targetName)]"
            out += node.dependsOn.isEmpty ? "\n" : " after \(node.dependsOn.joined(separator: ", "))\n"
        }
        if !graph.cycle.isEmpty { out += "on a cycle: \(graph.cycle.joined(separator: ", "))\n" }
        return out
    }

    static func mermaid(_ graph: ResourceGraph) -> String {
        var names: [String: String] = [:]
        var out = "graph TD\n"
        for (index, node) in graph.nodes.enumerated() {
            names[node.id] = "r\(index)"
            out += "  r\(index)[\"\(node.id) (\(node.targetName))\"]\n"
        }
        for node in graph.nodes {
            for dependency in node.dependsOn { out += "  \(names[node.id]!) --> \(names[dependency]!)\n" }
        }
        return out
    }
}
